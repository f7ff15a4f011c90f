from enum import StrEnum


class DurabilityMode(StrEnum):
    ASYNCHRONOUS = "asynchronous"
    SINGLE = "single"
    STANDBY = "standby"
    SYNCHRONOUS = "synchronous"

    def __str__(self) -> str:
        return str(self.value)
