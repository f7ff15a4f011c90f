from enum import StrEnum


class EventCreateWaitlistPolicy(StrEnum):
    FILL = "fill"
    STRICT = "strict"

    def __str__(self) -> str:
        return str(self.value)
