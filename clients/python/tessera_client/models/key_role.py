from enum import StrEnum


class KeyRole(StrEnum):
    ADMIN = "admin"
    CLIENT = "client"

    def __str__(self) -> str:
        return str(self.value)
