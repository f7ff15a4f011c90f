"""The route table is the app's routes: every Flask rule of the app is exactly one declared
operation and every declared operation a rule, with a unique camelCase operationId, and each
operation keeps the role it has (listed here, so a change of role is a visible diff)."""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask

from api.app import route_table
from api.routes import OPERATION_ID, Access, Attendee, table_of

pytestmark = pytest.mark.integration

PUBLIC, CLIENT, ADMIN = Access.PUBLIC, Access.CLIENT, Access.ADMIN

# operationId: method, Flask rule, who may call it.
OPERATIONS: dict[str, tuple[str, str, Access]] = {
    # users
    "createUser": ("POST", "/users", ADMIN),
    "getUser": ("GET", "/users/<user_id>", CLIENT),
    "updateUser": ("PUT", "/users/<user_id>", ADMIN),
    "deleteUser": ("DELETE", "/users/<user_id>", ADMIN),
    "listUserRegistrations": ("GET", "/users/<user_id>/registrations", CLIENT),
    "listUserWaitlists": ("GET", "/users/<user_id>/waitlists", CLIENT),
    "listUserOffers": ("GET", "/users/<user_id>/offers", CLIENT),
    # events
    "createEvent": ("POST", "/events", ADMIN),
    "listEvents": ("GET", "/events", CLIENT),
    "getEvent": ("GET", "/events/<event_id>", CLIENT),
    "updateEvent": ("PUT", "/events/<event_id>", ADMIN),
    "deleteEvent": ("DELETE", "/events/<event_id>", ADMIN),
    "listEventRegistrations": ("GET", "/events/<event_id>/registrations", CLIENT),
    "listEventWaitlist": ("GET", "/events/<event_id>/waitlist", CLIENT),
    "getRegistration": ("GET", "/events/<event_id>/registrations/<user_id>", CLIENT),
    "listEventOffers": ("GET", "/events/<event_id>/offers", CLIENT),
    "getEventLedger": ("GET", "/events/<event_id>/ledger", CLIENT),
    # approval
    "listEventApplications": ("GET", "/events/<event_id>/applications", CLIENT),
    "approveApplication": ("POST", "/events/<event_id>/applications/<user_id>/approve", ADMIN),
    "rejectApplication": ("POST", "/events/<event_id>/applications/<user_id>/reject", ADMIN),
    # commands, tickets, batches, updates
    "registerForEvent": ("POST", "/events/<event_id>/registrations", CLIENT),
    "unregisterFromEvent": ("DELETE", "/events/<event_id>/registrations/<user_id>", CLIENT),
    "acceptOffer": ("POST", "/events/<event_id>/offers/<user_id>/accept", CLIENT),
    "declineOffer": ("POST", "/events/<event_id>/offers/<user_id>/decline", CLIENT),
    "getTicket": ("GET", "/tickets/<ticket_id>", CLIENT),
    "submitBatch": ("POST", "/batches", CLIENT),
    "getBatch": ("GET", "/batches/<batch_id>", CLIENT),
    "listBatchTickets": ("GET", "/batches/<batch_id>/tickets", CLIENT),
    "streamEventUpdates": ("GET", "/events/<event_id>/updates", CLIENT),
    # webhooks
    "createWebhook": ("POST", "/webhooks", ADMIN),
    "listWebhooks": ("GET", "/webhooks", ADMIN),
    "getWebhook": ("GET", "/webhooks/<webhook_id>", ADMIN),
    "deleteWebhook": ("DELETE", "/webhooks/<webhook_id>", ADMIN),
    "listWebhookDeliveries": ("GET", "/webhooks/<webhook_id>/deliveries", ADMIN),
    "retryWebhookDelivery": (
        "POST",
        "/webhooks/<webhook_id>/deliveries/<delivery_id>/retry",
        ADMIN,
    ),
    # keys made at run time
    "createKey": ("POST", "/keys", ADMIN),
    "listKeys": ("GET", "/keys", ADMIN),
    "revokeKey": ("DELETE", "/keys/<key_id>", ADMIN),
    # operations
    "getHealth": ("GET", "/health", PUBLIC),
    "getLiveness": ("GET", "/live", PUBLIC),
    "getReadiness": ("GET", "/ready", PUBLIC),
    "getMetrics": ("GET", "/metrics", CLIENT),
    "getOpenApiDocument": ("GET", "/openapi.json", PUBLIC),
    "getSwaggerUi": ("GET", "/docs", PUBLIC),
    "getSwaggerAsset": ("GET", "/docs/<path:filename>", PUBLIC),
    "getConsole": ("GET", "/console", PUBLIC),
    "redirectToConsole": ("GET", "/console/", PUBLIC),
    "getConsoleAsset": ("GET", "/console/<path:filename>", PUBLIC),
}
# operationId: which attendee token may call it (CONTRACT.md "Attendee tokens"); every other
# operation is 403 for attendees.
ATTENDEE_OPERATIONS: dict[str, Attendee] = {
    "registerForEvent": Attendee.BODY_USER,
    "unregisterFromEvent": Attendee.PATH_USER,
    "acceptOffer": Attendee.PATH_USER,
    "declineOffer": Attendee.PATH_USER,
    "getTicket": Attendee.ANY,
    "listEvents": Attendee.ANY,
    "getEvent": Attendee.ANY,
    "getRegistration": Attendee.PATH_USER,
    "getUser": Attendee.PATH_USER,
    "listUserRegistrations": Attendee.PATH_USER,
    "listUserWaitlists": Attendee.PATH_USER,
    "listUserOffers": Attendee.PATH_USER,
}
# Served, but not operations a client calls: static assets and a redirect.
UNDOCUMENTED = {"getSwaggerAsset", "redirectToConsole", "getConsoleAsset"}


def test_every_rule_of_the_app_is_exactly_one_declared_operation_and_vice_versa(
    app: Flask,
) -> None:
    served = Counter(
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}  # Flask adds them to every GET / every rule
    )
    declared = Counter((op.endpoint, op.method, op.rule) for op in table_of(app).operations)

    assert served == declared
    assert set(served.values()) == {1}


def test_the_app_serves_the_table_its_blueprints_declare(app: Flask) -> None:
    assert table_of(app).operations == route_table().operations


def test_operation_ids_are_unique_and_camel_case() -> None:
    ids = [op.operation_id for op in route_table().operations]

    assert len(ids) == len(set(ids))
    assert [i for i in ids if not OPERATION_ID.fullmatch(i)] == []


def test_each_operation_has_its_method_rule_and_role() -> None:
    table = {op.operation_id: (op.method, op.rule, op.access) for op in route_table().operations}

    assert table == OPERATIONS


def test_attendees_may_call_exactly_the_operations_the_contract_lists() -> None:
    granted = {
        op.operation_id: op.attendee for op in route_table().operations if op.attendee is not None
    }

    assert granted == ATTENDEE_OPERATIONS


def test_only_static_assets_and_the_redirect_are_left_out_of_the_document() -> None:
    hidden = {op.operation_id for op in route_table().operations if not op.documented}

    assert hidden == UNDOCUMENTED
