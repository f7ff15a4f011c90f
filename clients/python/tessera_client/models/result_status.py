from enum import StrEnum


class ResultStatus(StrEnum):
    APPLIED = "applied"
    DECLINED = "declined"
    DENIED = "denied"
    PREQUEUED = "prequeued"
    REGISTERED = "registered"
    REJECTED = "rejected"
    UNREGISTERED = "unregistered"
    WAITLISTED = "waitlisted"

    def __str__(self) -> str:
        return str(self.value)
