from enum import StrEnum


class RegistrationStatusStatus(StrEnum):
    APPLIED = "applied"
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"

    def __str__(self) -> str:
        return str(self.value)
