"""Request and response schemas of `/keys`: API keys made at run time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.command_schemas import Out, Strict
from api.schemas import Name, Timestamp

# A key id is a ULID.
KEY_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class KeyCreate(Strict):
    name: Name = Field(description="What the key is for (non-blank, at most 200 characters).")
    role: Literal["admin", "client"]


class Key(Out):
    key_id: str
    name: str
    role: Literal["admin", "client"]
    created_at: Timestamp
    last_used_at: Timestamp | None = Field(
        description="When the key last authenticated a request (kept to within a few seconds)."
    )


class KeyCreated(Key):
    secret: str = Field(
        description="`tsk_` and 32 random bytes in base64url. Shown only in this answer: "
        "Tessera keeps only its digest."
    )


class KeyList(Out):
    items: list[Key]
