from enum import StrEnum


class EventOpening(StrEnum):
    DRAW = "draw"
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
