"""Request and response schemas of the asynchronous commands: tickets and batches."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.alias_generators import to_camel

from models.domain.identity import ID_PATTERN
from models.domain.results import ResultStatus
from models.domain.rules import DenialCode
from models.domain.settings import MAX_PARTY_SEATS

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, strict=True)]

MAX_BATCH_ITEMS = 10_000
DEFAULT_TICKET_PAGE = 100
MAX_TICKET_PAGE = 500
# `GET /batches/{batchId}/tickets` cursor: the last ticket's `seq`. Every string of this form
# names a position (18 digits stay within a BIGINT), so the document and the validator agree.
TICKET_CURSOR_PATTERN = r"^[0-9]{1,18}$"


class Strict(BaseModel):
    """Requests: camelCase, unknown fields refused, no silent coercion of types."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=False, extra="forbid", strict=True
    )


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def integral(value: object) -> object:
    """JSON has one kind of number: `2.0` is the integer 2, as JSON Schema and the contract
    ("non-integral numbers are not integers") say. `2.5` stays a number and is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


PARTY_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_PARTY_SEATS}
PartySize = Annotated[
    int, BeforeValidator(integral), Field(ge=1, le=MAX_PARTY_SEATS), WithJsonSchema(PARTY_SCHEMA)
]


class RegisterRequest(Strict):
    user_id: Identifier
    seats: PartySize = 1


class OfferReply(Strict):
    """An accept or decline (or an approve or reject) takes no fields: `{}` (or no body)."""


class BatchItem(Strict):
    type: Literal["register", "unregister"]
    user_id: Identifier
    event_id: Identifier
    seats: PartySize | None = Field(default=None, description="register only; default 1")

    @field_validator("seats")
    @classmethod
    def _register_only(cls, seats: int | None, info: ValidationInfo) -> int | None:
        if seats is not None and info.data.get("type") == "unregister":
            raise ValueError("only a register takes seats (an unregister removes the party)")
        return seats


class BatchRequest(Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class TicketQuery(Strict):
    model_config = ConfigDict(extra="ignore", strict=False)
    wait: float | None = Field(default=None, ge=0, le=30)


class OfferMade(Out):
    user_id: str
    seats: int = Field(ge=1)
    expires_at: dt.datetime


# `models.domain.results` writes these; its enums are the statuses and codes listed here.
class TicketResult(Out):
    status: ResultStatus
    code: DenialCode | None
    message: str
    position: int | None
    promoted_user_id: str | None = Field(description="the first of promotedUserIds")
    promoted_user_ids: list[str] = Field(description="every party seated by the settling")
    offered_user_ids: list[str] = Field(description="every party offered seats by it")
    offers: list[OfferMade] = Field(description="the offers made, with their seats and end")
    ledger_index: int | None = Field(
        default=None, description="this ticket's entry in the event's ledger"
    )
    ledger_hash: str | None = Field(default=None, description="that entry's hash")


class Ticket(Out):
    ticket_id: str
    type: Literal["register", "unregister", "accept_offer", "decline_offer", "approve", "reject"]
    user_id: str
    event_id: str
    seats: int = Field(ge=1, description="the party's seats (a register's; 1 otherwise)")
    batch_id: str | None
    status: Literal["pending", "completed", "failed"]
    result: TicketResult | None
    created_at: dt.datetime
    completed_at: dt.datetime | None


class BatchAccepted(Out):
    batch_id: str
    total: int
    ticket_ids: list[str]


class BatchResults(Out):
    registered: int
    waitlisted: int
    denied: int
    unregistered: int


class Batch(Out):
    batch_id: str
    total: int
    pending: int
    completed: int
    failed: int
    results: BatchResults


def query_integer(value: object) -> object:
    """A query-string integer (every API query): ASCII digits only (`1.0`, `+5`, `5_0`, `true`
    are not integers)."""
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ValueError("must be an integer")
        return int(value)
    return value


class BatchTicketsQuery(Strict):
    """`GET /batches/{batchId}/tickets` query parameters; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, BeforeValidator(query_integer), Field(ge=1, le=MAX_TICKET_PAGE)] = (
        DEFAULT_TICKET_PAGE
    )
    cursor: str | None = None


class TicketPage(Out):
    items: list[Ticket]
    next_cursor: str | None
