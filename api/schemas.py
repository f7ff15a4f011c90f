"""Request and response schemas of users, events, their registrations and health.

Requests follow `api.command_schemas`: camelCase, unknown fields refused, strict types (a
boolean or 1.5 is not an integer, 1.0 is; no string is a number). The rules of form (ids,
names, non-blank text) are `models.domain.identity`'s, called from validators so they live in one
place; each type also carries the JSON Schema that says the same thing, so the OpenAPI
document does not promise more (or less) than the validators accept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    RootModel,
    WithJsonSchema,
    create_model,
)

from api.command_schemas import Out, Strict, integral, query_integer
from models.domain import settings
from models.domain.errors import InvalidInput
from models.domain.identity import ID_PATTERN, MAX_NAME_LENGTH, check_id, check_name, check_text
from models.domain.results import rfc3339
from models.domain.settings import SETTABLE, SETTINGS, Kind, Setting

MAX_CAPACITY = settings.MAX_CAPACITY  # the largest ledger index too (api.openapi reads it)
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

# JSON Schema patterns: no NUL character (PostgreSQL text cannot hold one), and at least one
# visible character. "Space" is the union of what Python's str.strip() removes and what
# ECMA-262's \s (the JSON Schema regex dialect) means: they differ on U+001C-U+001F, U+0085
# and U+FEFF, and a reader of either dialect must reach the same verdict as the validator.
NO_NUL_PATTERN = r"^[^\u0000]*$"
_SPACE = r"\s\u001c-\u001f\u0085\ufeff"
NON_BLANK_PATTERN = rf"^[^\u0000]*[^{_SPACE}\u0000][^\u0000]*$"
_INVISIBLE = frozenset("\u001c\u001d\u001e\u001f\u0085\ufeff")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

T = TypeVar("T")


def _rule(check: Callable[[object], str]) -> Callable[[str], str]:
    """A `models.domain.identity` check as a Pydantic validator (its InvalidInput becomes a
    ValueError, which Pydantic reports against the field)."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidInput as error:
            raise ValueError(error.message) from None

    return validate


def storable(value: str) -> str:
    """Text PostgreSQL can store: no NUL and no lone surrogate (which JSON's \\ud800 escapes
    can produce and UTF-8 cannot encode)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _visible(value: str) -> str:
    """Non-blank in both regex dialects (see _SPACE): a byte-order mark alone is blank too."""
    if all(char.isspace() or char in _INVISIBLE for char in value):
        raise ValueError("must not be blank")
    return value


def _date(value: object) -> dt.date:
    """Only a `YYYY-MM-DD` string naming a real calendar day (so not 2026-02-30)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date string YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a real calendar date") from None


def _rfc3339(value: dt.datetime) -> str:
    """Every timestamp the API shows: UTC, to the millisecond (`models.domain.results.rfc3339`)."""
    shown = rfc3339(value)
    assert shown is not None
    return shown


ID_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "minLength": 1, "maxLength": 64}
NAME_SCHEMA = {"type": "string", "maxLength": MAX_NAME_LENGTH, "pattern": NON_BLANK_PATTERN}
TEXT_SCHEMA = {"type": "string", "pattern": NON_BLANK_PATTERN}
DESCRIPTION_SCHEMA = {"type": "string", "pattern": NO_NUL_PATTERN}
DATE_SCHEMA = {"type": "string", "format": "date"}
# `GET /events` cursor: the last event's createdAt in microseconds since the epoch, a dot, its
# eventId. Every string of this form names a position (up to the year 5138), so a cursor the
# document accepts is one the validator accepts.
EVENT_CURSOR_PATTERN = r"^[0-9]{1,17}\.[A-Za-z0-9_-]{1,64}$"

Identifier = Annotated[
    str, AfterValidator(_rule(lambda value: check_id("id", value))), WithJsonSchema(ID_SCHEMA)
]
# ≤ 200 characters as sent (what a schema can say), then non-blank once trimmed; stored trimmed.
Name = Annotated[
    str,
    Field(max_length=MAX_NAME_LENGTH),
    AfterValidator(storable),
    AfterValidator(_visible),
    AfterValidator(_rule(check_name)),
    WithJsonSchema(NAME_SCHEMA),
]
Text = Annotated[
    str,
    AfterValidator(storable),
    AfterValidator(_visible),
    AfterValidator(_rule(lambda value: check_text("value", value))),
    WithJsonSchema(TEXT_SCHEMA),
]
Description = Annotated[str, AfterValidator(storable), WithJsonSchema(DESCRIPTION_SCHEMA)]
EventDate = Annotated[dt.date, BeforeValidator(_date), WithJsonSchema(DATE_SCHEMA)]


Timestamp = Annotated[
    dt.datetime,
    PlainSerializer(_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _not_null(value: T) -> T:
    if value is None:
        raise ValueError("must not be null")
    return value


# Fields of a partial update may be left out, but when present must be valid (null is not);
# their JSON Schema is the plain type's, without null.
_PRESENT = AfterValidator(_not_null)
MaybeIdentifier = Annotated[Identifier | None, _PRESENT, WithJsonSchema(ID_SCHEMA)]
MaybeText = Annotated[Text | None, _PRESENT, WithJsonSchema(TEXT_SCHEMA)]
MaybeDescription = Annotated[Description | None, _PRESENT, WithJsonSchema(DESCRIPTION_SCHEMA)]
MaybeDate = Annotated[EventDate | None, _PRESENT, WithJsonSchema(DATE_SCHEMA)]

_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def _moment(value: object) -> object:
    """An RFC 3339 date-time with its offset, kept to the millisecond (the precision of every
    time Tessera compares: acceptance times, offers' ends); null stays null."""
    if value is None:
        return None
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2027-01-31T09:00:00Z")
    try:
        moment = dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be a real date and time") from None
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).astimezone(dt.UTC)


MOMENT_SCHEMA = {"type": ["string", "null"], "format": "date-time"}
# Null is a value here (no window), in a create and in an update alike.
Moment = Annotated[dt.datetime | None, BeforeValidator(_moment), WithJsonSchema(MOMENT_SCHEMA)]
MomentOut = Annotated[
    dt.datetime | None,
    PlainSerializer(lambda value: None if value is None else _rfc3339(value), return_type=str),
    WithJsonSchema(MOMENT_SCHEMA),
]


# --- users ------------------------------------------------------------------------------


class UserCreate(Strict):
    user_id: Identifier
    name: Name


class UserUpdate(Strict):
    name: Name


class User(Out):
    user_id: str
    name: str
    created_at: Timestamp
    updated_at: Timestamp


class UserRegistration(Out):
    event_id: str
    title: str
    date: dt.date
    seats: int = Field(ge=1)
    registered_at: Timestamp


class UserWaitlisting(Out):
    event_id: str
    title: str
    date: dt.date
    seats: int = Field(ge=1)
    position: int = Field(ge=1)
    waitlisted_at: Timestamp


# --- events -----------------------------------------------------------------------------


# The event's settings come from their declaration (`models.domain.settings`): each one's request
# and
# response type is derived from its kind and bounds, so the schema says what the rules judge.


def _setting_types(setting: Setting) -> tuple[Any, Any, Any]:
    """A setting's (create, update, response) types: an update's may be left out, never null
    (a moment's null is a value: "none")."""
    if setting.kind is Kind.MOMENT:
        return Moment, Moment, MomentOut
    if setting.kind is Kind.DIGEST:  # the server's (never in a request): a response type only
        return None, None, Annotated[str | None, Field(pattern="^[0-9a-f]{64}$")]
    if setting.kind is Kind.BOOLEAN:
        schema: dict[str, Any] = {"type": "boolean"}
        plain: Any = bool
    elif setting.kind is Kind.CHOICE:
        schema = {"type": "string", "enum": list(setting.values)}
        plain = Literal[setting.values]
    else:
        schema = {"type": "integer", "minimum": setting.low, "maximum": setting.high}
        plain = Annotated[
            int,
            BeforeValidator(integral),
            Field(ge=setting.low, le=setting.high),
            WithJsonSchema(schema),
        ]
    shown = int if setting.kind is Kind.INTEGER else plain  # a response states no bounds
    return plain, Annotated[plain | None, _PRESENT, WithJsonSchema(schema)], shown


def _with_settings(
    described: dict[str, Any],
    rest: dict[str, Any],
    pick: Callable[[Setting], Any],
    settings: tuple[Setting, ...] = SETTABLE,
) -> dict[str, Any]:
    """Fields in the contract's order: `capacity` (a setting since v1) after the location,
    the other settings after the event's own fields. Requests carry the settable ones only."""
    first, *others = settings
    return {
        **described,
        first.column: pick(first),
        **rest,
        **{setting.column: pick(setting) for setting in others},
    }


def _create_field(setting: Setting) -> Any:
    kind = _setting_types(setting)[0]
    return (
        (kind, ...)
        if setting.default is None and not setting.nullable
        else (
            kind,
            setting.plain(setting.default),
        )
    )


EventCreate = create_model(
    "EventCreate",
    __base__=Strict,
    __module__=__name__,
    **_with_settings(
        {
            "event_id": (MaybeIdentifier, None),
            "title": (Text, ...),
            "description": (Description, ...),
            "date": (EventDate, ...),
            "location": (Text, ...),
        },
        {"organizer": (Text, ...), "status": (Text, ...)},
        _create_field,
    ),
)
# The rules judge what no schema states: maxPartySize <= capacity, opensAt < closesAt (422).

EventUpdate = create_model(
    "EventUpdate",
    __base__=Strict,
    __module__=__name__,
    __doc__="""Partial: only the fields given change. The id is the path's: `eventId` is no field
    here (an unknown field, so a 422, as the document says).""",
    **_with_settings(
        {
            "title": (MaybeText, None),
            "description": (MaybeDescription, None),
            "date": (MaybeDate, None),
            "location": (MaybeText, None),
        },
        {"organizer": (MaybeText, None), "status": (MaybeText, None)},
        lambda setting: (_setting_types(setting)[1], None),
    ),
)

Event = create_model(
    "Event",
    __base__=Out,
    __module__=__name__,
    **_with_settings(
        {
            "event_id": (str, ...),
            "title": (str, ...),
            "description": (str, ...),
            "date": (dt.date, ...),
            "location": (str, ...),
        },
        {"organizer": (str, ...), "status": (str, ...)},
        lambda setting: (_setting_types(setting)[2], ...),
        SETTINGS,
    ),
    registered_count=(int, Field(description="seated registrations (parties)")),
    registered_seats=(int, Field(description="seats the seated parties take")),
    offered_seats=(int, Field(description="seats held by open offers")),
    waitlist_count=(int, Field(description="waiting parties")),
    waitlist_seats=(int, Field(description="seats the waiting parties ask for")),
    available_spots=(int, Field(description="capacity - registeredSeats - offeredSeats")),
    application_count=(int, Field(description="pending applications (admission approval)")),
    prequeued_count=(int, Field(description="parties in the pre-queue, waiting for the draw")),
    created_at=(Timestamp, ...),
    updated_at=(Timestamp, ...),
)


class EventPage(Out):
    items: list[Event]
    next_cursor: str | None


class EventQuery(Strict):
    """`GET /events` query parameters: strings from the URL, so parsed here, but no loose
    coercion (`limit=1.0` or `limit=5_0` is refused). Unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    status: Text | None = None
    limit: Annotated[
        int,
        BeforeValidator(query_integer),
        Field(ge=1, le=MAX_PAGE_SIZE),
    ] = DEFAULT_PAGE_SIZE
    cursor: str | None = None


MAX_LEDGER_PAGE = 1000


class LedgerQuery(Strict):
    """`GET /events/{id}/ledger` query parameters; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    after: Annotated[int, BeforeValidator(query_integer), Field(ge=0, le=MAX_CAPACITY)] = 0
    limit: Annotated[int, BeforeValidator(query_integer), Field(ge=1, le=MAX_LEDGER_PAGE)] = 100


class EventRegistration(Out):
    user_id: str
    seats: int = Field(ge=1)
    registered_at: Timestamp


class WaitlistEntry(Out):
    user_id: str
    seats: int = Field(ge=1)
    position: int = Field(ge=1)
    waitlisted_at: Timestamp


class RegistrationStatus(Out):
    status: Literal["registered", "waitlisted", "applied"]
    seats: int = Field(ge=1)
    position: int | None = Field(
        description="1-based line position; null when seated or applied (no place yet)"
    )


class OfferedStatus(Out):
    """Seats held for the party until `expiresAt` (it has left the line: no position)."""

    status: Literal["offered"]
    seats: int = Field(ge=1)
    position: None
    expires_at: Timestamp


class PrequeuedStatus(Out):
    """In the pre-queue of an on-sale draw: no seat and no place until the draw."""

    status: Literal["prequeued"]
    seats: int = Field(ge=1)
    position: None


class Standing(RootModel[RegistrationStatus | OfferedStatus | PrequeuedStatus]):
    """Where a user stands at an event: seated, waiting, offered seats, or pre-queued."""


class LedgerEntry(Out):
    """One entry of an event's ledger (docs/LEDGER.md): `hash` is the SHA-256 of the entry
    without it, as canonical JSON; `prevHash` the previous entry's (64 zeros for index 1)."""

    index: int = Field(ge=1)
    event_id: str
    kind: Literal[
        "event_created", "event_updated", "ticket", "user_removed", "offer_expired", "draw"
    ]
    ticket_id: str | None
    type: (
        Literal["register", "unregister", "accept_offer", "decline_offer", "approve", "reject"]
        | None
    )
    user_id: str | None
    seats: int | None
    accepted_at: str | None
    outcome: dict[str, object]
    prev_hash: str = Field(pattern="^[0-9a-f]{64}$")
    hash: str = Field(pattern="^[0-9a-f]{64}$")


class LedgerPage(Out):
    items: list[LedgerEntry]
    next_after: int | None = Field(description="pass as `after` for the next page; null: last")


class ApplicationOut(Out):
    """A pending application (`admission: approval`): no seat, no place in the line yet."""

    user_id: str
    seats: int = Field(ge=1)
    applied_at: Timestamp


class OfferOut(Out):
    """An open offer: seats held for a party until `expiresAt`."""

    event_id: str
    user_id: str
    seats: int = Field(ge=1)
    offered_at: Timestamp
    expires_at: Timestamp


# --- health and errors ------------------------------------------------------------------


class Check(Out):
    ok: bool
    latency_ms: float


class Checks(Out):
    postgres: Check
    redis: Check


class Durability(Out):
    guaranteed: bool = Field(
        description="whether an acknowledged (committed) ticket survives the loss of the"
        " database's primary: true only with a synchronous standby"
    )
    mode: Literal["single", "asynchronous", "synchronous", "standby"]
    detail: str


class Health(Out):
    status: Literal["ok", "unavailable"]
    checks: Checks
    durability: Durability | None = Field(
        default=None,
        description="what the database can promise across a failover; null while PostgreSQL"
        " does not answer",
    )


class Liveness(Out):
    status: Literal["ok", "ready"]


class ProblemField(Out):
    field: str = Field(description="dotted path of the bad field, e.g. items.3.userId")
    message: str


class Problem(Out):
    """RFC 9457 problem details, as every error response carries them."""

    type: str
    title: str
    status: int
    detail: str
    code: Literal[
        "VALIDATION_ERROR",
        "USER_NOT_FOUND",
        "EVENT_NOT_FOUND",
        "TICKET_NOT_FOUND",
        "BATCH_NOT_FOUND",
        "REGISTRATION_NOT_FOUND",
        "WEBHOOK_NOT_FOUND",
        "KEY_NOT_FOUND",
        "DUPLICATE_USER",
        "DUPLICATE_EVENT",
        "CAPACITY_BELOW_REGISTERED",
        "CAPACITY_BELOW_PARTY_SIZE",
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        "IDEMPOTENCY_KEY_REUSED",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "UNAUTHORIZED",
        "FORBIDDEN",
        "RATE_LIMITED",
        "NOT_READY",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "INTERNAL",
    ]
    request_id: str
    errors: list[ProblemField] = Field(
        default_factory=list, description="each bad field (VALIDATION_ERROR only)"
    )
