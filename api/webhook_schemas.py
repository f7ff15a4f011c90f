"""Request and response schemas of `/webhooks`: subscriptions and their delivery logs.

Requests follow `api.command_schemas.Strict`. A URL's schema says only what a pattern can (an
http(s) URL); whether its host resolves to an address Tessera may call is the network's state,
checked by the view (`tessera.webhook_urls`), and refused with a 422 naming `url`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema

from api.command_schemas import Out, Strict, query_integer
from api.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, NO_NUL_PATTERN, Timestamp, storable
from models.storage.webhooks import MESSAGE_TYPES, WILDCARD
from tessera.webhook_urls import MAX_URL_LENGTH, UnsafeUrl, parse

MAX_DESCRIPTION_LENGTH = 500
# A subscription id is a ULID; a delivery id is a positive integer (its place in the outbox).
WEBHOOK_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
DELIVERY_ID_PATTERN = r"^[0-9]{1,18}$"
# `GET /webhooks/{id}/deliveries` cursor: the last delivery's id (the page continues with
# older ones). Every string of this form names a position.
DELIVERY_CURSOR_PATTERN = DELIVERY_ID_PATTERN
# What `tessera.webhook_urls.parse` accepts, as a pattern, so the document refuses what the API
# refuses (a bare "HTTP://" matched the old prefix-only pattern and then got a 422): an http(s)
# scheme; a host (RFC 3986 reg-name with a character other than a dot, or a bracketed IPv6
# literal); a port 1-65535 without leading zeros; a path or query of printable ASCII; no
# credentials, no fragment. Whether the host resolves to an address Tessera may call is the
# network's state, checked by the view.
_H16 = "[0-9A-Fa-f]{1,4}"
_IPV6 = "|".join(
    (
        f"(?:{_H16}:){{7}}{_H16}",
        f"(?:{_H16}:){{1,7}}:",
        f"(?:{_H16}:){{1,6}}:{_H16}",
        *(f"(?:{_H16}:){{1,{n}}}(?::{_H16}){{1,{7 - n}}}" for n in range(5, 0, -1)),
        f":(?:(?::{_H16}){{1,7}}|:)",
    )
)
_REG_NAME = r"\.*[A-Za-z0-9_~!$&'()*+,;=%-][A-Za-z0-9_~!$&'()*+,;=%.-]*"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:{_REG_NAME}|\[(?:{_IPV6})\])(?::{_PORT})?"
    r'(?:[/?][!"$-~]*)?$'
)
_URL = re.compile(URL_PATTERN)

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


def _well_formed(url: str) -> str:
    """The document's pattern, with the reason `parse` gives when it has one."""
    if _URL.fullmatch(url) is None:
        try:
            parse(url)
        except UnsafeUrl as unsafe:
            raise ValueError(str(unsafe)) from None
        raise ValueError("must be an http(s) URL: http(s)://host[:port][/path][?query]")
    return url


Url = Annotated[
    str,
    Field(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(storable),
    AfterValidator(_well_formed),
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
