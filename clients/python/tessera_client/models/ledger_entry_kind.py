from enum import StrEnum


class LedgerEntryKind(StrEnum):
    DRAW = "draw"
    EVENT_CREATED = "event_created"
    EVENT_UPDATED = "event_updated"
    OFFER_EXPIRED = "offer_expired"
    TICKET = "ticket"
    USER_REMOVED = "user_removed"

    def __str__(self) -> str:
        return str(self.value)
