from enum import StrEnum


class LedgerEntryTypeType0(StrEnum):
    ACCEPT_OFFER = "accept_offer"
    APPROVE = "approve"
    DECLINE_OFFER = "decline_offer"
    REGISTER = "register"
    REJECT = "reject"
    UNREGISTER = "unregister"

    def __str__(self) -> str:
        return str(self.value)
