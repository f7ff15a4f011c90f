"""Request and response schemas of `/webhooks`: subscriptions and their delivery logs.

Requests follow `api.command_schemas.Strict`. A URL's schema says only what a pattern can (an
http(s) URL); whether its host resolves to an address Tessera may call is the network's state,
checked by the view (`tessera.webhook_urls`), and refused with a 422 naming `url`.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from api.command_schemas import Out, Strict, query_integer
from api.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, NO_NUL_PATTERN, Timestamp, storable
from models.storage.webhooks import MESSAGE_TYPES, WILDCARD
from tessera.webhook_urls import MAX_URL_LENGTH

MAX_DESCRIPTION_LENGTH = 500
# A subscription id is a ULID; a delivery id is a positive integer (its place in the outbox).
WEBHOOK_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
DELIVERY_ID_PATTERN = r"^[0-9]{1,18}$"
# `GET /webhooks/{id}/deliveries` cursor: the last delivery's id (the page continues with
# older ones). Every string of this form names a position.
DELIVERY_CURSOR_PATTERN = DELIVERY_ID_PATTERN
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://"

MessageType = Literal[
    "*",
    "ticket.completed",
    "registration.promoted",
    "offer.made",
    "offer.accepted",
    "offer.declined",
    "offer.expired",
    "registration.drawn",
]
assert set(get_args(MessageType)) == {WILDCARD, *MESSAGE_TYPES}


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not name a type twice")
    return values


Url = Annotated[
    str,
    Field(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(storable),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_URL_LENGTH, "pattern": URL_PATTERN}
    ),
]
Description = Annotated[
    str,
    Field(max_length=MAX_DESCRIPTION_LENGTH),
    AfterValidator(storable),
    WithJsonSchema(
        {"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH, "pattern": NO_NUL_PATTERN}
    ),
]


class WebhookCreate(Strict):
    url: Url = Field(
        description="An http(s) URL; refused (422) if its host resolves to a "
        "loopback, private or link-local address."
    )
    events: Annotated[
        list[MessageType],
        Field(min_length=1, max_length=len(MESSAGE_TYPES) + 1),
        AfterValidator(_distinct),
    ] = Field(description='SSE message types, or "*" for all of them (today\'s and future ones).')
    description: Description | None = None


class Webhook(Out):
    webhook_id: str
    url: str
    events: list[str]
    description: str | None
    disabled: bool = Field(
        description="Disabled after its deliveries failed for 24 h; retrying one of its "
        "deliveries enables it again."
    )
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(
        description="`whsec_` + base64 of 32 random bytes: the key of the signatures. Shown "
        "only in this answer."
    )


class WebhookList(Out):
    items: list[Webhook]


class Delivery(Out):
    delivery_id: str
    message_id: str = Field(description="The `webhook-id` header, the same on every attempt.")
    type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(ge=0)
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: Timestamp | None
    created_at: Timestamp


class DeliveryPage(Out):
    items: list[Delivery]
    next_cursor: str | None


class DeliveryQuery(Strict):
    """`GET /webhooks/{id}/deliveries` query parameters; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, BeforeValidator(query_integer), Field(ge=1, le=MAX_PAGE_SIZE)] = (
        DEFAULT_PAGE_SIZE
    )
    cursor: str | None = None
