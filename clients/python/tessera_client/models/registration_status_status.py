from enum import StrEnum


class RegistrationStatusStatus(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"

    def __str__(self) -> str:
        return str(self.value)
