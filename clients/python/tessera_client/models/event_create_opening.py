from enum import StrEnum


class EventCreateOpening(StrEnum):
    DRAW = "draw"
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
