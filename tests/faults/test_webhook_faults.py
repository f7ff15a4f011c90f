"""Webhook deliveries through faults, on the real stack (gunicorn API, Celery workers for tickets
and for webhooks, beat): a webhook worker killed while its requests are on the wire, and Redis
killed and restarted empty. Nothing is lost; a message arrives twice only as a retry, with the
same `webhook-id`; every request is signed (verified by the `standardwebhooks` library)."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.faults.lab import ADMIN_KEY, CLIENT_KEY, FaultLab
from tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.e2e

SENDERS = "webhooks"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture(scope="module")
def senders(fault_lab: FaultLab) -> Iterator[FaultLab]:
    """The lab with a webhook worker of its own (the other drills need none)."""
    fault_lab.stack.start_webhook_worker(SENDERS)
    yield fault_lab
    if fault_lab.stack.running(SENDERS):
        fault_lab.stack.stop(SENDERS)


@pytest.fixture
def hooks_lab(senders: FaultLab) -> Iterator[FaultLab]:
    senders.heal()
    if not senders.stack.running(SENDERS):
        senders.stack.restart(SENDERS)
    yield senders
    senders.heal()
    if not senders.stack.running(SENDERS):
        senders.stack.restart(SENDERS)


def subscribe(lab: FaultLab, receiver: Receiver) -> str:
    response = requests.post(
        f"{lab.base_url}/webhooks",
        json={"url": receiver.url, "events": ["*"], "description": "fault drill"},
        headers=ADMIN,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secret = created["secret"]
    return str(created["webhookId"])


def register(lab: FaultLab, event_id: str, user_id: str) -> str:
    response = requests.post(
        f"{lab.base_url}/events/{event_id}/registrations",
        json={"userId": user_id},
        headers=CLIENT,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["ticketId"])


def wait_for_ticket(lab: FaultLab, ticket_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = lab.scalar("SELECT status FROM tickets WHERE ticket_id = :t", t=ticket_id)
        if status != "pending":
            return
        time.sleep(0.05)
    raise TimeoutError(f"ticket {ticket_id} still pending")


def wait_until_delivered(lab: FaultLab, webhook_id: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = dict(
            lab.rows(
                "SELECT status, count(*) FROM webhook_deliveries WHERE webhook_id = :w"
                " GROUP BY status",
                w=webhook_id,
            )
        )
        if counts.get("delivered", 0) >= expected and not counts.get("pending"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"deliveries of {webhook_id} not all delivered: {counts}")


def message_ids(lab: FaultLab, webhook_id: str) -> list[str]:
    return [
        str(row[0])
        for row in lab.rows(
            "SELECT message_id FROM webhook_deliveries WHERE webhook_id = :w", w=webhook_id
        )
    ]


def test_a_webhook_worker_killed_mid_delivery_loses_nothing_and_repeats_only_with_the_same_id(
    hooks_lab: FaultLab,
) -> None:
    lab = hooks_lab
    tag = uuid.uuid4().hex[:6]
    users = [f"wk-{tag}-u{i}" for i in range(12)]
    lab.seed_users(users)
    lab.create_event(f"wk-{tag}", capacity=20)
    with receiving(Receiver(delay=1.0)) as receiver:  # every answer takes a second
        webhook_id = subscribe(lab, receiver)
        tickets = [register(lab, f"wk-{tag}", user) for user in users]
        receiver.wait_for(2, timeout=30)  # requests are on the wire, unanswered
        lab.stack.kill(SENDERS, signal.SIGKILL, whole_group=True)
        killed_at = time.monotonic()
        lab.stack.restart(SENDERS)
        for ticket_id in tickets:
            wait_for_ticket(lab, ticket_id)
        # The killed attempts' leases expire (15 s); the sweeper then wakes their subscription.
        wait_until_delivered(lab, webhook_id, len(users), timeout=90)
        received = list(receiver.received)
        recovered_in = time.monotonic() - killed_at

    sent = Counter(r.message_id for r in received)
    assert set(sent) == set(message_ids(lab, webhook_id))  # nothing lost, nothing invented
    assert len(sent) == len(users)  # one message per applied ticket
    assert all(r.verified for r in received)
    repeated = {message_id for message_id, count in sent.items() if count > 1}
    before_the_kill = {r.message_id for r in received if r.at < killed_at}
    assert repeated, "no attempt was cut off by the kill (the drill did not hit mid-delivery)"
    assert repeated <= before_the_kill  # only what the dead worker had on the wire
    assert all(count <= 2 for count in sent.values()), sent
    assert recovered_in < 60


def test_redis_killed_and_restarted_empty_costs_no_delivery_and_no_duplicate(
    hooks_lab: FaultLab,
) -> None:
    lab = hooks_lab
    tag = uuid.uuid4().hex[:6]
    event_id = f"wr-{tag}"
    seated, waiting, late = f"wr-{tag}-a", f"wr-{tag}-b", f"wr-{tag}-c"
    lab.seed_users([seated, waiting, late])
    lab.create_event(event_id, capacity=1)
    wait_for_ticket(lab, register(lab, event_id, seated))
    wait_for_ticket(lab, register(lab, event_id, waiting))
    with receiving() as receiver:
        webhook_id = subscribe(lab, receiver)
        lab.kill_redis()
        # Synchronous: the promotion's delivery is committed, its wake-up is lost with Redis.
        removed = requests.delete(f"{lab.base_url}/users/{seated}", headers=ADMIN, timeout=10)
        ticket_id = register(lab, event_id, late)  # accepted without Redis; applied after
        time.sleep(1.0)
        lab.start_redis()
        wait_for_ticket(lab, ticket_id, timeout=60)
        wait_until_delivered(lab, webhook_id, 2, timeout=60)
        time.sleep(1.5)  # a duplicate would come within a sweep or two
        received = list(receiver.received)

    assert removed.status_code == 204
    kinds = Counter((r.body["type"], r.body["data"]["userId"]) for r in received)
    assert kinds == Counter({("registration.promoted", waiting): 1, ("ticket.completed", late): 1})
    assert all(r.verified for r in received)
    assert sorted(r.message_id for r in received) == sorted(message_ids(lab, webhook_id))
