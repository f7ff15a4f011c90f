"""Single faults, each pinned down to one request: what the API answers while PostgreSQL is
down, and whether a client retrying with its Idempotency-Key after a crash gets through."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import psycopg
import pytest
import requests

from models.storage.db import psycopg_url
from tests.faults.lab import ADMIN_KEY, CLIENT_KEY, FaultLab

pytestmark = pytest.mark.e2e

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _fresh_event_and_user(lab: FaultLab) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    event_id, user_id = f"pin-e-{suffix}", f"pin-u-{suffix}"
    lab.seed_users([user_id])
    lab.create_event(event_id, capacity=5)
    return event_id, user_id


def test_ready_answers_503_not_ready_within_two_seconds_while_postgresql_is_down(
    lab: FaultLab,
) -> None:
    lab.stop_postgres()
    try:
        started = time.monotonic()
        response = requests.get(lab.base_url + "/ready", timeout=10)
        elapsed = time.monotonic() - started
        health = requests.get(lab.base_url + "/health", timeout=10)
    finally:
        lab.start_postgres()

    assert (response.status_code, response.json()["code"]) == (503, "NOT_READY")
    assert elapsed < 2.0
    assert health.status_code == 503
    assert health.json()["checks"]["postgres"]["ok"] is False
    assert health.json()["checks"]["redis"]["ok"] is True
    lab.stack.wait_ready(30)


def test_a_command_while_postgresql_is_down_is_answered_503_not_500(lab: FaultLab) -> None:
    event_id, user_id = _fresh_event_and_user(lab)
    headers = {**CLIENT, "Idempotency-Key": f"pin-{uuid.uuid4()}"}
    lab.stop_postgres()
    try:
        command = requests.post(
            f"{lab.base_url}/events/{event_id}/registrations",
            json={"userId": user_id},
            headers=headers,
            timeout=10,
        )
        read = requests.get(f"{lab.base_url}/events/{event_id}", headers=CLIENT, timeout=10)
    finally:
        lab.start_postgres()
    lab.stack.wait_ready(30)
    retried = requests.post(
        f"{lab.base_url}/events/{event_id}/registrations",
        json={"userId": user_id},
        headers=headers,
        timeout=10,
    )

    assert retried.status_code == 202  # the refused attempt stored nothing under the key
    assert (command.status_code, command.json()["code"]) == (503, "NOT_READY")
    assert command.headers.get("Retry-After")
    assert (read.status_code, read.json()["code"]) == (503, "NOT_READY")


def test_a_retry_after_the_api_died_in_the_middle_of_accepting_gets_through_within_seconds(
    lab: FaultLab,
) -> None:
    event_id, user_id = _fresh_event_and_user(lab)
    key = f"pin-{uuid.uuid4()}"
    url = f"{lab.base_url}/events/{event_id}/registrations"
    headers = {**CLIENT, "Idempotency-Key": key}

    # Hold the tickets table so the request stops between its claim of the key and its
    # ticket insert, then SIGKILL the API there: a crash at the worst moment, on purpose.
    with psycopg.connect(psycopg_url(lab.urls.database_url)) as blocker:
        blocker.execute("LOCK TABLE tickets IN EXCLUSIVE MODE")
        first = threading.Thread(
            target=_swallow_errors,
            args=(url, {"userId": user_id}, headers),
            daemon=True,
        )
        first.start()
        _wait_for_a_backend_waiting_on_tickets(lab)
        lab.kill_api()
        blocker.rollback()
    first.join(15)
    count = "SELECT count(*) FROM tickets WHERE event_id = :e AND user_id = :u"
    assert lab.scalar(count, e=event_id, u=user_id) == 0  # nothing was accepted
    lab.restart_api()

    answers: list[int] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = requests.post(url, json={"userId": user_id}, headers=headers, timeout=10)
        answers.append(response.status_code)
        if response.status_code != 409:
            break
        time.sleep(0.5)

    assert lab.scalar(count, e=event_id, u=user_id) <= 1
    assert answers[-1] == 202, f"still {answers[-1]} after {len(answers)} retries in 5 s"


def _swallow_errors(url: str, body: dict[str, str], headers: dict[str, str]) -> None:
    # the API is killed under this request: no answer is the expected outcome
    with contextlib.suppress(requests.RequestException):
        requests.post(url, json=body, headers=headers, timeout=30)


def _wait_for_a_backend_waiting_on_tickets(lab: FaultLab, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = lab.scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'tickets'::regclass"
        )
        if waiting:
            return
        time.sleep(0.02)
    raise TimeoutError("the request never reached the ticket insert")
