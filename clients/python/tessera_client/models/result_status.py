from enum import StrEnum


class ResultStatus(StrEnum):
    DECLINED = "declined"
    DENIED = "denied"
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    WAITLISTED = "waitlisted"

    def __str__(self) -> str:
        return str(self.value)
