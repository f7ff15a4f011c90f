"""Webhooks (admin keys): subscriptions, each with a `whsec_` secret shown once, their delivery
logs, and manual retries. Deliveries are written with the changes they report and sent by the
workers (see `models.storage.webhooks`, `workers.deliverer`)."""

from __future__ import annotations

import re

from flask import Response
from ulid import ULID

from api.body import parse_body, parse_query
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from api.params import cursor, limit
from api.render import json_response
from api.routes import Access, Param, Reply, Resource, route
from api.schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from api.webhook_schemas import (
    DELIVERY_CURSOR_PATTERN,
    DELIVERY_ID_PATTERN,
    WEBHOOK_ID_PATTERN,
    Delivery,
    DeliveryPage,
    DeliveryQuery,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
)
from models.domain.errors import WebhookNotFound
from models.storage import db, webhooks
from tessera.webhook_secrets import SecretBox, new_secret
from tessera.webhook_urls import UnsafeUrl, check

bp = Resource("webhooks", __name__, tag="webhooks")

_WEBHOOK_ID = re.compile(WEBHOOK_ID_PATTERN)
_DELIVERY_ID = re.compile(DELIVERY_ID_PATTERN)
_CURSOR = re.compile(DELIVERY_CURSOR_PATTERN)


WEBHOOK_ID = Param(
    "webhookId",
    "path",
    {"type": "string", "pattern": WEBHOOK_ID_PATTERN},
    "A subscription id. One that breaks the pattern is a 404.",
    True,
)
DELIVERY_ID = Param(
    "deliveryId",
    "path",
    {"type": "string", "pattern": DELIVERY_ID_PATTERN},
    "A delivery id (from the delivery log). One that breaks the pattern is a 404.",
    True,
)
WEBHOOK_MISSING = {404: "WEBHOOK_NOT_FOUND."}


def _webhook_id(webhook_id: str) -> str:
    """An id that breaks the pattern names no subscription: 404, like any unknown one."""
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise WebhookNotFound(webhook_id)
    return webhook_id


def _out(view: webhooks.WebhookView) -> Webhook:
    return Webhook.model_validate(view, from_attributes=True)


def _delivery_out(view: webhooks.DeliveryView) -> Delivery:
    return Delivery(
        delivery_id=str(view.delivery_id),
        message_id=view.message_id,
        type=view.type,
        status=view.status,
        attempts=view.attempts,
        last_status_code=view.last_status_code,
        last_error=view.last_error,
        next_attempt_at=view.next_attempt_at,
        created_at=view.created_at,
    )


@route(
    bp,
    "POST",
    "/webhooks",
    operation_id="createWebhook",
    access=Access.ADMIN,
    summary="Subscribe a URL to status updates",
    replies=(
        Reply(
            201,
            "The subscription, with its secret (shown only here).",
            WebhookCreated,
            headers=("Location", "Cache-Control"),
        ),
    ),
    body=WebhookCreate,
    notes="Every status update of a type named in `events` (SSE types, or `*`) is POSTed "
    "to `url` as JSON `{type, timestamp, data}` with the Standard Webhooks headers "
    "`webhook-id` (the same on every retry), `webhook-timestamp` and `webhook-signature` "
    "(`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-"
    "decoded secret after `whsec_`). A 2xx within 10 s is delivered; anything else is "
    "retried with backoff (TESSERA_WEBHOOK_RETRY_SCHEDULE), then failed. At least once; "
    "arrival order is not promised.",
    error_notes={
        422: "VALIDATION_ERROR: `errors` lists each bad field; a `url` that is not http(s) "
        "or whose host does not resolve, or resolves to a loopback, private or link-local "
        "address (unless TESSERA_WEBHOOK_ALLOW_PRIVATE=1), names `url`.",
        503: "NOT_READY: the server has no TESSERA_WEBHOOK_KEY to seal secrets with.",
    },
)
def create_webhook() -> Response:
    body = parse_body(WebhookCreate)
    settings = ctx().settings
    try:
        check(body.url, allow_private=settings.webhook_allow_private)
    except UnsafeUrl as refused:
        raise validation_error([FieldError("url", str(refused))]) from None
    box = SecretBox.for_settings(settings.webhook_keys, settings.secret_key)
    if not box.can_seal:
        raise ApiError(
            503,
            "NOT_READY",
            "Webhooks need TESSERA_SECRET_KEY or TESSERA_WEBHOOK_KEY (to seal their secrets)"
            " on this server.",
        )
    webhook_id = str(ULID())
    secret = new_secret()
    sealed = box.seal(webhook_id, secret)
    view = db.run(
        ctx().sessions,
        lambda session: webhooks.create(
            session,
            webhook_id=webhook_id,
            url=body.url,
            events=list(body.events),
            description=body.description,
            secret_sealed=sealed,
        ),
    )
    created = WebhookCreated(**_out(view).model_dump(), secret=secret)
    response = json_response(created, 201)
    response.headers["Location"] = f"/webhooks/{webhook_id}"  # a ULID: nothing to escape
    response.headers["Cache-Control"] = "no-store"  # it carries the secret
    return response


@route(
    bp,
    "GET",
    "/webhooks",
    operation_id="listWebhooks",
    access=Access.ADMIN,
    summary="List the subscriptions",
    replies=(Reply(200, "Oldest first; no secrets.", WebhookList),),
)
def list_webhooks() -> Response:
    with ctx().sessions.begin() as session:
        views = webhooks.list_all(session)
    return json_response(WebhookList(items=[_out(view) for view in views]))


@route(
    bp,
    "GET",
    "/webhooks/<webhook_id>",
    operation_id="getWebhook",
    access=Access.ADMIN,
    summary="Get a subscription",
    replies=(Reply(200, "The subscription (no secret).", Webhook),),
    params=(WEBHOOK_ID,),
    error_notes=WEBHOOK_MISSING,
)
def get_webhook(webhook_id: str) -> Response:
    with ctx().sessions.begin() as session:
        view = webhooks.get(session, _webhook_id(webhook_id))
    return json_response(_out(view))


@route(
    bp,
    "DELETE",
    "/webhooks/<webhook_id>",
    operation_id="deleteWebhook",
    access=Access.ADMIN,
    summary="Delete a subscription",
    replies=(Reply(204, "Deleted, with its delivery log; nothing more is sent."),),
    params=(WEBHOOK_ID,),
    error_notes=WEBHOOK_MISSING,
)
def delete_webhook(webhook_id: str) -> Response:
    webhook_id = _webhook_id(webhook_id)
    db.run(ctx().sessions, lambda session: webhooks.remove(session, webhook_id))
    return Response(status=204)


@route(
    bp,
    "GET",
    "/webhooks/<webhook_id>/deliveries",
    operation_id="listWebhookDeliveries",
    access=Access.ADMIN,
    summary="A subscription's delivery log",
    replies=(Reply(200, "A page of deliveries, newest first.", DeliveryPage),),
    params=(
        WEBHOOK_ID,
        limit(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
        cursor(
            DELIVERY_CURSOR_PATTERN,
            "the last delivery's `deliveryId` (the page goes on with older ones)",
        ),
    ),
    errors=(422,),
    notes="Delivered and failed deliveries are kept for 7 days.",
    error_notes=WEBHOOK_MISSING,
)
def list_deliveries(webhook_id: str) -> Response:
    webhook_id = _webhook_id(webhook_id)
    query = parse_query(DeliveryQuery)
    before = None
    if query.cursor is not None:
        if not _CURSOR.fullmatch(query.cursor):
            raise validation_error([FieldError("cursor", "not a cursor this API issued")])
        before = int(query.cursor)
    with db.snapshot(ctx().sessions) as session:
        # one more than asked tells whether another page follows, without a count
        page = webhooks.deliveries(session, webhook_id, before, query.limit + 1)
    more = len(page) > query.limit
    page = page[: query.limit]
    return json_response(
        DeliveryPage(
            items=[_delivery_out(view) for view in page],
            next_cursor=str(page[-1].delivery_id) if more else None,
        )
    )


@route(
    bp,
    "POST",
    "/webhooks/<webhook_id>/deliveries/<delivery_id>/retry",
    operation_id="retryWebhookDelivery",
    access=Access.ADMIN,
    summary="Send a delivery again",
    replies=(Reply(202, "The delivery, pending: it is sent again shortly.", Delivery),),
    params=(WEBHOOK_ID, DELIVERY_ID),
    notes="Whatever its status, with the same `webhook-id` and the whole retry schedule "
    "ahead of it. Retrying a delivery of a disabled subscription enables it again.",
    error_notes={404: "WEBHOOK_NOT_FOUND: no such subscription, or no such delivery of it."},
)
def retry_delivery(webhook_id: str, delivery_id: str) -> Response:
    webhook_id = _webhook_id(webhook_id)
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise WebhookNotFound(webhook_id, delivery_id)
    view = db.run(
        ctx().sessions, lambda session: webhooks.retry(session, webhook_id, int(delivery_id))
    )
    return json_response(_delivery_out(view), 202)
