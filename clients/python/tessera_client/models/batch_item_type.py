from enum import StrEnum


class BatchItemType(StrEnum):
    REGISTER = "register"
    UNREGISTER = "unregister"

    def __str__(self) -> str:
        return str(self.value)
