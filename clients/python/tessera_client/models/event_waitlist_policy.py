from enum import StrEnum


class EventWaitlistPolicy(StrEnum):
    FILL = "fill"
    STRICT = "strict"

    def __str__(self) -> str:
        return str(self.value)
