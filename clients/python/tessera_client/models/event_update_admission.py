from enum import StrEnum


class EventUpdateAdmission(StrEnum):
    APPROVAL = "approval"
    OPEN = "open"

    def __str__(self) -> str:
        return str(self.value)
