"""The on-sale draw under a dying worker (#24), with real processes: a pool process SIGKILLed
while the draw's transaction is open leaves nothing, and the restarted worker draws exactly
once; wake-ups arriving together at the opening draw once too."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
import redis
import requests
from celery import Celery

from models.domain.ledger_verify import Views, verify
from models.domain.results import rfc3339
from tessera.messaging import Waker
from tests.faults.lab import ADMIN_KEY, WORKER_CONCURRENCY, FaultLab

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Big enough that the draw's transaction stays open long enough to catch on 2 shared cores.
PARTIES = 10_000
CAPACITY = 1_000
BATCH_ITEMS = 5_000


def _call(lab: FaultLab, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        lab.base_url + path,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
        **kwargs,
    )


def _prequeue(lab: FaultLab, event_id: str, parties: int, lead: float) -> dt.datetime:
    """A draw event opening `lead` s from now, with `parties` users pre-queued (all applied)."""
    users = [f"{event_id}-{i:05d}" for i in range(parties)]
    lab.seed_users(users)
    now = lab.now_wall()
    opens = now + dt.timedelta(seconds=lead)
    made = _call(lab, "POST", "/events", json={
        "eventId": event_id, "title": "On sale", "description": "", "date": "2027-01-01",
        "location": "Arena", "capacity": CAPACITY, "organizer": "Reliability",
        "status": "active", "waitlistEnabled": True, "opening": "draw",
        "prequeueOpensAt": rfc3339(now - dt.timedelta(seconds=1)),
        "registrationOpensAt": rfc3339(opens),
    })  # fmt: skip
    assert made.status_code == 201, made.text
    for first in range(0, parties, BATCH_ITEMS):
        items = [
            {"type": "register", "userId": user, "eventId": event_id}
            for user in users[first : first + BATCH_ITEMS]
        ]
        answer = _call(lab, "POST", "/batches", json={"items": items})
        assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + lead
    while (
        lab.scalar(
            "SELECT count(*) FROM registrations WHERE event_id = :e AND standing = 'prequeued'",
            e=event_id,
        )
        < parties
    ):
        assert time.monotonic() < deadline, "the pre-queue was not applied before the opening"
        time.sleep(0.2)
    assert lab.now_wall() < opens, "the pre-queue was applied after the opening"
    return opens


def _wait_drawn(lab: FaultLab, event_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event: dict[str, Any] = _call(lab, "GET", f"/events/{event_id}").json()
        if event["drawnAt"] is not None:
            return event
        time.sleep(0.1)
    raise TimeoutError(f"{event_id} was not drawn within {timeout} s")


def _assert_drawn_once(lab: FaultLab, event_id: str, parties: int) -> None:
    event = _wait_drawn(lab, event_id)
    assert (event["registeredCount"], event["waitlistCount"], event["prequeuedCount"]) == (
        CAPACITY,
        parties - CAPACITY,
        0,
    )
    draws = lab.scalar(
        "SELECT count(*) FROM ledger_entries WHERE event_id = :e"
        " AND CAST(entry AS jsonb)->>'kind' = 'draw'",
        e=event_id,
    )
    assert draws == 1
    # each drawn party is told once (SSE replay and webhooks read this log)
    told = lab.scalar(
        "SELECT count(*) FROM event_log WHERE event_id = :e AND kind = 'registration.drawn'",
        e=event_id,
    )
    assert told == parties
    entries = [
        json.loads(row[0])
        for row in lab.rows(
            "SELECT entry FROM ledger_entries WHERE event_id = :e ORDER BY index", e=event_id
        )
    ]
    waitlist = _call(lab, "GET", f"/events/{event_id}/waitlist").json()
    verdict = verify(entries, Views(event=event, waitlist=waitlist), event_id=event_id)
    assert verdict.ok, verdict.divergence


def test_a_worker_killed_mid_draw_leaves_nothing_and_the_restarted_worker_draws_once(
    lab: FaultLab,
) -> None:
    opens = _prequeue(lab, "killed-draw", PARTIES, lead=40.0)
    time.sleep(max(0.0, (opens - lab.now_wall()).total_seconds() - 0.5))

    # The pool process that holds the event's lock right after the opening is drawing: stop
    # it inside the transaction, check nothing is visible, then kill the whole worker.
    lab.freeze_applier(timeout=10.0)
    assert lab.scalar("SELECT drawn_at FROM events WHERE event_id = 'killed-draw'") is None
    assert (
        lab.scalar(
            "SELECT count(*) FROM registrations WHERE event_id = 'killed-draw'"
            " AND standing = 'prequeued'"
        )
        == PARTIES
    )
    lab.kill_worker()
    time.sleep(1.0)
    assert lab.scalar("SELECT drawn_at FROM events WHERE event_id = 'killed-draw'") is None
    lab.restart_worker()

    _assert_drawn_once(lab, "killed-draw", PARTIES)


def test_wake_ups_arriving_together_at_the_opening_draw_once(lab: FaultLab) -> None:
    parties = 2_000
    opens = _prequeue(lab, "woken-draw", parties, lead=20.0)
    sender = Celery("tessera-faults")
    sender.config_from_object("celeryconfig")
    sender.conf.broker_url = lab.urls.redis_url
    client = redis.Redis.from_url(lab.urls.redis_url)
    try:
        time.sleep(max(0.0, (opens - lab.now_wall()).total_seconds()))
        # Forced, so they are not coalesced: every pool process reaches for the same due
        # draw at once, beside beat's own wake-up.
        waker = Waker(client, sender)
        for _ in range(2 * WORKER_CONCURRENCY):
            waker.wake(["woken-draw"], force=True)
    finally:
        client.close()

    _assert_drawn_once(lab, "woken-draw", parties)
