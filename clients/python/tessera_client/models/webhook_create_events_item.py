from enum import StrEnum


class WebhookCreateEventsItem(StrEnum):
    OFFER_ACCEPTED = "offer.accepted"
    OFFER_DECLINED = "offer.declined"
    OFFER_EXPIRED = "offer.expired"
    OFFER_MADE = "offer.made"
    REGISTRATION_DRAWN = "registration.drawn"
    REGISTRATION_PROMOTED = "registration.promoted"
    TICKET_COMPLETED = "ticket.completed"
    VALUE_0 = "*"

    def __str__(self) -> str:
        return str(self.value)
