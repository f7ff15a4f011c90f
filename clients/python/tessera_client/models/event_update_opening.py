from enum import StrEnum


class EventUpdateOpening(StrEnum):
    DRAW = "draw"
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
