"""The generated typed client (clients/python, `tessera_client`) against the real stack: an
admin makes a user and an event, a client key registers, waits on the ticket and reads the
views, every answer parsed into the client's models."""

from __future__ import annotations

import datetime as dt

import pytest
from tessera_client import AuthenticatedClient
from tessera_client.api.commands import get_ticket, register_for_event
from tessera_client.api.events import (
    create_event,
    get_event,
    get_registration,
    list_event_registrations,
)
from tessera_client.api.users import create_user
from tessera_client.models import (
    Event,
    EventCreate,
    EventRegistration,
    RegisterRequest,
    RegistrationStatus,
    ResultStatus,
    Ticket,
    TicketStatus,
    User,
    UserCreate,
)

from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY
from tests.localstack import LocalStack

pytestmark = pytest.mark.e2e


def test_the_typed_client_registers_waits_on_the_ticket_and_reads_the_views(
    stack: LocalStack, db: object
) -> None:
    admin = AuthenticatedClient(base_url=stack.base_url, token=ADMIN_KEY, timeout=40)
    client = AuthenticatedClient(base_url=stack.base_url, token=CLIENT_KEY, timeout=40)

    user = create_user.sync(client=admin, body=UserCreate(user_id="ann", name="Ann"))
    assert isinstance(user, User)
    event = create_event.sync(
        client=admin,
        body=EventCreate(
            event_id="typed",
            title="Typed",
            description="",
            date=dt.date(2026, 12, 1),
            location="Hall",
            capacity=2,
            organizer="Org",
            status="active",
        ),
    )
    assert isinstance(event, Event)

    accepted = register_for_event.sync_detailed(
        "typed", client=client, body=RegisterRequest(user_id="ann")
    )
    assert accepted.status_code == 202
    ticket = accepted.parsed
    assert isinstance(ticket, Ticket)
    assert ticket.status == TicketStatus.PENDING

    done = get_ticket.sync(ticket.ticket_id, client=client, wait=20)
    assert isinstance(done, Ticket)
    assert done.status == TicketStatus.COMPLETED
    assert done.result is not None
    assert done.result.status == ResultStatus.REGISTERED

    seen = get_event.sync("typed", client=client)
    assert isinstance(seen, Event)
    assert (seen.registered_count, seen.available_spots) == (1, 1)
    standing = get_registration.sync("typed", "ann", client=client)
    assert isinstance(standing, RegistrationStatus)
    assert standing.position is None
    roster = list_event_registrations.sync("typed", client=client)
    assert isinstance(roster, list)
    assert [r.user_id for r in roster if isinstance(r, EventRegistration)] == ["ann"]
