from enum import StrEnum


class EventCreatePromotion(StrEnum):
    AUTOMATIC = "automatic"
    OFFER = "offer"

    def __str__(self) -> str:
        return str(self.value)
