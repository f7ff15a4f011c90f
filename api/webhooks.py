"""Webhooks (admin keys): subscriptions, each with a `whsec_` secret shown once, their delivery
logs, and manual retries. Deliveries are written with the changes they report and sent by the
workers (see `models.webhooks`, `workers.deliverer`)."""

from __future__ import annotations

import re

from flask import Blueprint, Response
from ulid import ULID

from api.auth import admin_only
from api.body import parse_body, parse_query
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from api.render import json_response
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
from models import db, webhooks
from models.errors import WebhookNotFound
from tessera.webhook_secrets import SecretBox, new_secret
from tessera.webhook_urls import UnsafeUrl, check

bp = Blueprint("webhooks", __name__)

_WEBHOOK_ID = re.compile(WEBHOOK_ID_PATTERN)
_DELIVERY_ID = re.compile(DELIVERY_ID_PATTERN)
_CURSOR = re.compile(DELIVERY_CURSOR_PATTERN)


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


@bp.post("/webhooks")
@admin_only
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


@bp.get("/webhooks")
@admin_only
def list_webhooks() -> Response:
    with ctx().sessions.begin() as session:
        views = webhooks.list_all(session)
    return json_response(WebhookList(items=[_out(view) for view in views]))


@bp.get("/webhooks/<webhook_id>")
@admin_only
def get_webhook(webhook_id: str) -> Response:
    with ctx().sessions.begin() as session:
        view = webhooks.get(session, _webhook_id(webhook_id))
    return json_response(_out(view))


@bp.delete("/webhooks/<webhook_id>")
@admin_only
def delete_webhook(webhook_id: str) -> Response:
    webhook_id = _webhook_id(webhook_id)
    db.run(ctx().sessions, lambda session: webhooks.remove(session, webhook_id))
    return Response(status=204)


@bp.get("/webhooks/<webhook_id>/deliveries")
@admin_only
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


@bp.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/retry")
@admin_only
def retry_delivery(webhook_id: str, delivery_id: str) -> Response:
    webhook_id = _webhook_id(webhook_id)
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise WebhookNotFound(webhook_id, delivery_id)
    view = db.run(
        ctx().sessions, lambda session: webhooks.retry(session, webhook_id, int(delivery_id))
    )
    return json_response(_delivery_out(view), 202)
