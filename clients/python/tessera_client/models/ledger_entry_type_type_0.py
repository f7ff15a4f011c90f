from enum import StrEnum


class LedgerEntryTypeType0(StrEnum):
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"
    REGISTER = "register"
    UNREGISTER = "unregister"

    def __str__(self) -> str:
        return str(self.value)
