"""Webhooks end to end in one process: subscriptions through the API, deliveries written with
the changes they report, sent by the real sender (`workers.deliverer`) to a real HTTP receiver
that verifies every signature with the `standardwebhooks` library; retries, failure, disabling,
manual retry, the delivery log, SSRF refusals and every bad input."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from models.storage import event_log, outbox
from models.storage.db import make_sessionmaker
from tessera.config import Settings
from tessera.messaging import DELIVER_TASK, RedisMessenger, Waker, deliver_key
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.conftest import (
    ADMIN,
    CLIENT,
    WEBHOOK_KEY,
    AppFactory,
    create_event,
    create_users,
)
from tests.webhook_receiver import Receiver, receiving
from workers import deliverer, runtime, sweeper
from workers.webhook_client import Connections, post

pytestmark = pytest.mark.integration

# Short, but longer than a loaded machine takes between two of a sender's transactions: a retry
# due sooner would be claimed by the same deliver() call and count as a second attempt.
FAST_RETRIES = (0.5, 0.5)


class RecordingSender:
    """Stands in for Celery's sender: remembers which tasks would have been queued."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def send_task(self, name: str, args: list[Any], **_: Any) -> object:
        self.sent.append((name, list(args)))
        return None

    def delivers(self) -> list[str]:
        return [args[0] for name, args in self.sent if name == DELIVER_TASK]


def webhook_settings(settings: Settings, **changes: Any) -> Settings:
    values = {
        **settings.__dict__,
        "webhook_keys": (WEBHOOK_KEY,),
        "webhook_allow_private": True,
        "webhook_retry_schedule": FAST_RETRIES,
        **changes,
    }
    return Settings(**values)


@pytest.fixture
def hooks(api_app: AppFactory, settings: Settings) -> FlaskClient:
    """An API that lets subscriptions point at this machine (the receiver is on loopback)."""
    return api_app(webhook_settings(settings)).test_client()


SenderFactory = Callable[..., runtime.Runtime]


@pytest.fixture
def make_sender(server_urls: ServerUrls, settings: Settings) -> Iterator[SenderFactory]:
    """Webhook sender runtimes (what a `tessera webhook-worker` thread uses), any settings."""
    built: list[runtime.Runtime] = []

    def build(**changes: Any) -> runtime.Runtime:
        made = runtime.build(webhook_settings(settings, **changes), sender=RecordingSender())
        built.append(made)
        return made

    yield build
    for made in built:
        made.engine.dispose()
        made.redis.close()


@pytest.fixture
def sender(make_sender: SenderFactory) -> runtime.Runtime:
    return make_sender()


def sent_tasks(rt: runtime.Runtime) -> RecordingSender:
    recording = rt.waker.sender
    assert isinstance(recording, RecordingSender)
    return recording


def subscribe(client: FlaskClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, "events": events or ["*"]}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def register(client: FlaskClient, rt: runtime.Runtime, event_id: str, *user_ids: str) -> None:
    """Register the users through the API and apply their tickets as a worker would."""
    for user_id in user_ids:
        response = client.post(
            f"/events/{event_id}/registrations", json={"userId": user_id}, headers=CLIENT
        )
        assert response.status_code == 202, response.get_json()
    drain_event(rt, event_id)


def deliveries(client: FlaskClient, webhook_id: str, **query: Any) -> dict[str, Any]:
    response = client.get(f"/webhooks/{webhook_id}/deliveries", query_string=query, headers=ADMIN)
    assert response.status_code == 200, response.get_json()
    page: dict[str, Any] = response.get_json()
    return page


def deliver_until_settled(rt: runtime.Runtime, webhook_id: str, timeout: float = 10.0) -> None:
    """Run the sender (as the sweeper's wake-ups would) until nothing of the subscription is
    pending any more."""
    sessions = rt.sessions
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deliverer.deliver(rt, webhook_id)
        with sessions.begin() as session:
            pending = session.execute(
                text(
                    "SELECT count(*) FROM webhook_deliveries"
                    " WHERE webhook_id = :w AND status = 'pending'"
                ),
                {"w": webhook_id},
            ).scalar_one()
        if not pending:
            return
        time.sleep(0.03)
    raise TimeoutError("deliveries still pending")


# --- subscriptions --------------------------------------------------------------------------


def test_a_subscription_shows_its_secret_once_and_never_again(
    hooks: FlaskClient, db: sessionmaker[Session]
) -> None:
    response = hooks.post(
        "/webhooks",
        json={
            "url": "http://127.0.0.1:9/in",
            "events": ["ticket.completed", "registration.promoted"],
            "description": "batch job",
        },
        headers=ADMIN,
    )
    created = response.get_json()
    webhook_id = created["webhookId"]

    assert response.status_code == 201
    assert response.headers["Location"] == f"/webhooks/{webhook_id}"
    assert response.headers["Cache-Control"] == "no-store"
    assert set(created) == {
        "webhookId", "url", "events", "description", "secret", "disabled", "createdAt",
    }  # fmt: skip
    assert created["events"] == ["ticket.completed", "registration.promoted"]
    assert created["description"] == "batch job"
    assert created["disabled"] is False
    assert created["secret"].startswith("whsec_")
    shown = {k: v for k, v in created.items() if k != "secret"}
    assert hooks.get(f"/webhooks/{webhook_id}", headers=ADMIN).get_json() == shown
    assert hooks.get("/webhooks", headers=ADMIN).get_json() == {"items": [shown]}
    # A dump of the database holds no form of the secret: only the sealed bytes.
    with db.begin() as session:
        dump = session.execute(text("SELECT row_to_json(w)::text FROM webhooks w")).scalar_one()
        sealed = session.execute(text("SELECT secret_sealed FROM webhooks")).scalar_one()
    secret_b64 = created["secret"].removeprefix("whsec_")
    assert secret_b64 not in dump
    assert secret_b64.encode() not in bytes(sealed)


def test_subscriptions_are_listed_oldest_first_and_deleted_with_their_log(
    hooks: FlaskClient, sender: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    first = subscribe(hooks, "http://127.0.0.1:9/a")
    second = subscribe(hooks, "http://127.0.0.1:9/b", ["registration.promoted"])
    create_users(hooks, "ann")
    create_event(hooks, "e1")
    register(hooks, sender, "e1", "ann")

    listed = [w["webhookId"] for w in hooks.get("/webhooks", headers=ADMIN).get_json()["items"]]
    deleted = hooks.delete(f"/webhooks/{first['webhookId']}", headers=ADMIN)

    assert listed == [first["webhookId"], second["webhookId"]]
    assert deleted.status_code == 204
    assert hooks.get(f"/webhooks/{first['webhookId']}", headers=ADMIN).status_code == 404
    with db.begin() as session:
        left = session.execute(text("SELECT webhook_id FROM webhook_deliveries")).scalars().all()
    assert left == []  # the promoted-only subscription had nothing, the other's log is gone


def test_without_a_webhook_key_the_server_cannot_take_subscriptions(
    api_app: AppFactory, settings: Settings
) -> None:
    # only with auth off may a server run without the server secret, whose key also seals
    keyless = webhook_settings(settings, webhook_keys=(), secret_key=None, auth_enabled=False)
    client = api_app(keyless).test_client()

    response = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["*"]}, headers=ADMIN
    )

    assert response.status_code == 503
    assert response.get_json()["code"] == "NOT_READY"
    assert "TESSERA_WEBHOOK_KEY" in response.get_json()["detail"]


# --- the outbox -----------------------------------------------------------------------------


def test_a_delivery_is_written_in_the_transaction_of_the_change_it_reports(
    hooks: FlaskClient, db: sessionmaker[Session]
) -> None:
    subscribe(hooks, "http://127.0.0.1:9/")
    update = event_log.promoted("e1", "ann", 1)

    session = db()
    session.begin()
    event_log.append(session, [update])
    session.rollback()
    session.close()
    with db.begin() as session:
        after_rollback = session.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar()
        event_log.append(session, [update, event_log.promoted("e1", "bob", 1)])
    with db.begin() as session:
        rows = session.execute(
            text("SELECT kind, payload, status, next_attempt_at <= now() FROM webhook_deliveries")
        ).all()

    assert after_rollback == 0
    assert [(kind, payload["userId"], status, due) for kind, payload, status, due in rows] == [
        ("registration.promoted", "ann", "pending", True),
        ("registration.promoted", "bob", "pending", True),
    ]


def test_only_active_subscriptions_naming_the_type_get_a_delivery_and_are_woken_once(
    hooks: FlaskClient, engine: Engine, redis_client: redis.Redis
) -> None:
    everything = subscribe(hooks, "http://127.0.0.1:9/all")
    promoted = subscribe(hooks, "http://127.0.0.1:9/promoted", ["registration.promoted"])
    completed = subscribe(hooks, "http://127.0.0.1:9/done", ["ticket.completed"])
    disabled = subscribe(hooks, "http://127.0.0.1:9/off", ["*"])
    recording = RecordingSender()
    messenger = RedisMessenger(redis_client, Waker(redis_client, recording))
    sessions = make_sessionmaker(engine, messenger)
    with sessions.begin() as session:
        session.execute(
            text("UPDATE webhooks SET disabled = true WHERE webhook_id = :w"),
            {"w": disabled["webhookId"]},
        )
    with sessions.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
    with sessions.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "bob", 1)])  # the senders are queued
        counts = dict(
            session.execute(
                text("SELECT webhook_id, count(*) FROM webhook_deliveries GROUP BY webhook_id")
            ).all()
        )

    assert counts == {everything["webhookId"]: 2, promoted["webhookId"]: 2}
    assert sorted(recording.delivers()) == sorted([everything["webhookId"], promoted["webhookId"]])
    assert completed["webhookId"] not in recording.delivers()
    assert redis_client.exists(deliver_key(everything["webhookId"]))


# --- delivering -----------------------------------------------------------------------------


def test_every_update_is_posted_signed_as_the_sse_message_and_verified_by_the_library(
    hooks: FlaskClient, sender: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    with receiving() as receiver:
        created = subscribe(hooks, receiver.url)
        receiver.secret = created["secret"]
        create_users(hooks, "ann", "bob", "cy")
        create_event(hooks, "e1", capacity=1)
        register(hooks, sender, "e1", "ann", "bob")
        hooks.delete("/events/e1/registrations/ann", headers=CLIENT)
        drain_event(sender, "e1")  # ann leaves, bob is promoted

        report = deliverer.deliver(sender, created["webhookId"])
        got = receiver.wait_for(4)
    with db.begin() as session:
        logged = session.execute(text("SELECT kind, payload FROM event_log ORDER BY id")).all()

    assert report.delivered == 4
    assert all(r.verified for r in got)
    assert all(r.path == "/hooks/tessera" for r in got)
    assert len({r.message_id for r in got}) == 4
    assert all(r.message_id.startswith("msg_") for r in got)
    assert sorted((r.body["type"], r.body["data"]["userId"]) for r in got) == sorted(
        (kind, payload["userId"]) for kind, payload in logged
    )
    bodies = {(r.body["type"], r.body["data"]["userId"]): r.body for r in got}
    promoted = bodies[("registration.promoted", "bob")]
    assert set(promoted) == {"type", "timestamp", "data"}
    # sealed in entry 4: the event's creation, two registers, then ann's unregister
    assert promoted["data"] == {
        "eventId": "e1",
        "userId": "bob",
        "status": "registered",
        "ledgerIndex": 4,
    }
    assert promoted["timestamp"].endswith("Z")
    page = deliveries(hooks, created["webhookId"])
    assert [d["status"] for d in page["items"]] == ["delivered"] * 4
    assert all(d["attempts"] == 1 and d["lastStatusCode"] == 200 for d in page["items"])
    assert all(d["nextAttemptAt"] is None and d["lastError"] is None for d in page["items"])


def test_a_receiver_failing_at_first_gets_retries_with_the_same_message_id(
    hooks: FlaskClient, sender: runtime.Runtime
) -> None:
    with receiving(Receiver(statuses=[500, 503])) as receiver:
        created = subscribe(hooks, receiver.url, ["registration.promoted"])
        receiver.secret = created["secret"]
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])

        first = deliverer.deliver(sender, created["webhookId"])
        failed_once = deliveries(hooks, created["webhookId"])["items"][0]
        deliver_until_settled(sender, created["webhookId"])
        got = receiver.wait_for(3)

    assert first.retrying == 1
    assert failed_once["status"] == "pending"
    assert failed_once["lastStatusCode"] == 500
    assert failed_once["lastError"] == "HTTP 500: receiver says no"
    assert failed_once["nextAttemptAt"] is not None
    assert len({r.message_id for r in got}) == 1  # one message, three attempts
    assert all(r.verified for r in got)
    done = deliveries(hooks, created["webhookId"])["items"][0]
    assert (done["status"], done["attempts"], done["lastStatusCode"]) == ("delivered", 3, 200)
    assert done["lastError"] is None


def test_after_the_schedule_a_delivery_fails_and_a_manual_retry_sends_it_again(
    hooks: FlaskClient, sender: runtime.Runtime
) -> None:
    with receiving(Receiver(statuses=[500, 500, 500])) as receiver:
        created = subscribe(hooks, receiver.url)
        receiver.secret = created["secret"]
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliver_until_settled(sender, created["webhookId"])
        failed = deliveries(hooks, created["webhookId"])["items"][0]

        retried = hooks.post(
            f"/webhooks/{created['webhookId']}/deliveries/{failed['deliveryId']}/retry",
            headers=ADMIN,
        )
        deliver_until_settled(sender, created["webhookId"])
        got = receiver.wait_for(4)

    assert (failed["status"], failed["attempts"]) == ("failed", 1 + len(FAST_RETRIES))
    assert failed["nextAttemptAt"] is None
    assert retried.status_code == 202
    assert retried.get_json()["status"] == "pending"
    assert retried.get_json()["deliveryId"] == failed["deliveryId"]
    assert {r.message_id for r in got} == {failed["messageId"]}
    done = deliveries(hooks, created["webhookId"])["items"][0]
    assert (done["status"], done["attempts"]) == ("delivered", 4)


def test_a_subscription_failing_for_24_hours_is_disabled_until_a_delivery_is_retried(
    hooks: FlaskClient, sender: runtime.Runtime
) -> None:
    with receiving(Receiver(statuses=[500])) as receiver:
        created = subscribe(hooks, receiver.url)
        webhook_id = created["webhookId"]
        receiver.secret = created["secret"]
        with sender.sessions.begin() as session:
            event_log.append(
                session, [event_log.promoted("e1", "ann", 1), event_log.promoted("e1", "bob", 1)]
            )
            session.execute(
                text(
                    "UPDATE webhooks SET failing_since = now() - interval '25 hours';"
                    " UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour'"
                    " WHERE payload->>'userId' = 'bob'"
                )
            )
        report = deliverer.deliver(sender, webhook_id)
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "cy", 1)])  # while disabled
        shown = hooks.get(f"/webhooks/{webhook_id}", headers=ADMIN).get_json()
        log = deliveries(hooks, webhook_id)["items"]

        retry = hooks.post(
            f"/webhooks/{webhook_id}/deliveries/{log[0]['deliveryId']}/retry", headers=ADMIN
        )
        deliver_until_settled(sender, webhook_id)
        receiver.wait_for(2)

    assert report.attempts == 1
    assert shown["disabled"] is True
    assert [d["status"] for d in log] == ["failed", "failed"]  # nothing queued for cy
    assert "disabled after failing for 24 h" in log[0]["lastError"]
    assert log[1]["lastError"].startswith("HTTP 500")
    assert retry.status_code == 202
    assert hooks.get(f"/webhooks/{webhook_id}", headers=ADMIN).get_json()["disabled"] is False
    assert [d["status"] for d in deliveries(hooks, webhook_id)["items"]] == ["delivered", "failed"]


def test_a_healthy_answer_ends_the_failing_streak(
    hooks: FlaskClient, sender: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    with receiving(Receiver(statuses=[500])) as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliverer.deliver(sender, webhook_id)
        with db.begin() as session:
            streak = session.execute(text("SELECT failing_since FROM webhooks")).scalar()
        deliver_until_settled(sender, webhook_id)
    with db.begin() as session:
        after = session.execute(text("SELECT failing_since FROM webhooks")).scalar()

    assert streak is not None
    assert after is None


def test_no_redirect_is_followed(hooks: FlaskClient, sender: runtime.Runtime) -> None:
    redirect = Receiver(statuses=[302], extra_headers={"Location": "http://127.0.0.1:9/else"})
    with receiving(redirect) as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliverer.deliver(sender, webhook_id)
        item = deliveries(hooks, webhook_id)["items"][0]

    assert len(receiver.received) == 1
    assert (item["status"], item["lastStatusCode"]) == ("pending", 302)


def test_at_most_a_few_deliveries_of_one_subscription_are_in_flight_at_once(
    hooks: FlaskClient, make_sender: SenderFactory
) -> None:
    first, second = make_sender(), make_sender()
    with receiving(Receiver(hold=True)) as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with first.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", f"u{i}", 1) for i in range(10)])
        sending = threading.Thread(target=deliverer.deliver, args=(first, webhook_id))
        sending.start()
        receiver.wait_for(deliverer.MAX_IN_FLIGHT)
        meanwhile = deliverer.deliver(second, webhook_id)  # another worker, same subscription
        held = len(receiver.received)
        receiver.release.set()
        sending.join(30)
        deliver_until_settled(first, webhook_id)

    assert meanwhile.attempts == 0  # the bound holds across workers
    assert held == deliverer.MAX_IN_FLIGHT
    assert receiver.max_in_flight == deliverer.MAX_IN_FLIGHT
    assert len(receiver.received) == 10


def test_a_dead_senders_deliveries_are_sent_again_once_their_lease_expires(
    hooks: FlaskClient, sender: runtime.Runtime
) -> None:
    with receiving() as receiver:
        created = subscribe(hooks, receiver.url)
        receiver.secret = created["secret"]
        with sender.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        with sender.sessions.begin() as session:  # claimed by a sender that then died
            claimed = outbox.claim(session, created["webhookId"], 4).deliveries
        nothing_due = deliverer.deliver(sender, created["webhookId"])
        with sender.sessions.begin() as session:
            session.execute(text("UPDATE webhook_deliveries SET leased_until = now()"))
        with sender.sessions.begin() as session:
            due = outbox.due_subscriptions(session)
        again = deliverer.deliver(sender, created["webhookId"])
        got = receiver.wait_for(1)

    assert len(claimed) == 1
    assert nothing_due.attempts == 0
    assert due == [created["webhookId"]]
    assert again.delivered == 1
    assert got[0].message_id == claimed[0].message_id


def test_a_deleted_subscriptions_late_deliveries_are_dropped(
    hooks: FlaskClient, sender: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    webhook_id = subscribe(hooks, "http://127.0.0.1:9/")["webhookId"]
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        session.execute(text("DELETE FROM webhooks"))  # as if deleted while this committed

    report = deliverer.deliver(sender, webhook_id)

    with db.begin() as session:
        assert session.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 0
    assert report.attempts == 0


# --- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.20/hook",
        "http://172.31.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "https://no-such-host.invalid/hook",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_a_url_that_is_not_http_or_reaches_inside_the_network_is_refused(
    client: FlaskClient, url: str
) -> None:
    response = client.post("/webhooks", json={"url": url, "events": ["*"]}, headers=ADMIN)

    assert response.status_code == 422, url
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in response.get_json()["errors"]] == ["url"]


def test_an_address_that_turned_private_after_subscribing_is_refused_at_delivery(
    hooks: FlaskClient, make_sender: SenderFactory
) -> None:
    """DNS rebinding: what was checked at subscription is checked again before each attempt
    (here, a sender that allows no private address, against the loopback receiver)."""
    strict = make_sender(webhook_allow_private=False)
    with receiving() as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with strict.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliverer.deliver(strict, webhook_id)
        item = deliveries(hooks, webhook_id)["items"][0]

    assert receiver.received == []
    assert item["status"] == "pending"
    assert item["lastStatusCode"] is None
    assert item["lastError"] == "refused: the URL resolves to 127.0.0.1, which is loopback"


def test_a_slow_receiver_is_given_up_on_at_the_deadline() -> None:
    with receiving(Receiver(delay=3)) as receiver:
        started = time.monotonic()
        answer = post(receiver.url, {}, b"{}", allow_private=True, timeout=0.5)
        took = time.monotonic() - started

    assert not answer.delivered
    assert answer.error == "no answer within 0.5 s"
    assert took < 1.5


def test_a_receiver_that_drips_its_answer_cannot_stretch_the_deadline() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 40:
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    answer = post(f"http://127.0.0.1:{port}/", {}, b"{}", allow_private=True, timeout=0.6)
    took = time.monotonic() - started
    listener.close()

    assert answer.error == "no answer within 0.6 s"
    assert took < 1.5


def test_a_sender_keeps_its_connection_open_between_attempts() -> None:
    connections = Connections()
    with receiving() as receiver:
        answers = [
            post(receiver.url, {}, b"{}", allow_private=True, connections=connections)
            for _ in range(3)
        ]
    connections.close()

    assert [a.delivered for a in answers] == [True, True, True]
    assert len(receiver.connections) == 1


def test_a_kept_connection_the_receiver_closed_is_replaced_without_failing_the_attempt() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served: list[bytes] = []

    def answer_then_hang_up() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                served.append(connection.recv(65536))
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            # closed without saying so: the sender still holds it as kept-alive

    threading.Thread(target=answer_then_hang_up, daemon=True).start()
    connections = Connections()
    url = f"http://127.0.0.1:{port}/"
    first = post(url, {}, b"{}", allow_private=True, connections=connections)
    time.sleep(0.1)
    second = post(url, {}, b"{}", allow_private=True, connections=connections)
    connections.close()
    listener.close()

    assert (first.delivered, second.delivered) == (True, True)
    assert len(served) == 2


def test_nothing_listening_is_a_failed_attempt_not_an_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    answer = post(f"http://127.0.0.1:{port}/", {}, b"{}", allow_private=True, timeout=2)

    assert (answer.status_code, answer.error) == (None, "connection refused")


def test_https_to_a_receiver_without_a_valid_certificate_is_a_failed_attempt() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def not_tls() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")

    threading.Thread(target=not_tls, daemon=True).start()
    answer = post(f"https://127.0.0.1:{port}/", {}, b"{}", allow_private=True, timeout=2)
    listener.close()

    assert not answer.delivered
    assert answer.error is not None
    assert answer.error.startswith("TLS")


# --- the delivery log and ids ---------------------------------------------------------------


def test_the_delivery_log_pages_newest_first_with_a_cursor(
    hooks: FlaskClient, db: sessionmaker[Session]
) -> None:
    webhook_id = subscribe(hooks, "http://127.0.0.1:9/")["webhookId"]
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", f"u{i}", 1) for i in range(5)])

    first = deliveries(hooks, webhook_id, limit=2)
    second = deliveries(hooks, webhook_id, limit=2, cursor=first["nextCursor"])
    last = deliveries(hooks, webhook_id, limit=2, cursor=second["nextCursor"])

    users = [d for page in (first, second, last) for d in page["items"]]
    assert [int(d["deliveryId"]) for d in users] == sorted(
        (int(d["deliveryId"]) for d in users), reverse=True
    )
    assert len(users) == 5
    assert last["nextCursor"] is None
    assert set(users[0]) == {
        "deliveryId", "messageId", "type", "status", "attempts", "lastStatusCode",
        "lastError", "nextAttemptAt", "createdAt",
    }  # fmt: skip
    assert users[0]["status"] == "pending"
    assert users[0]["attempts"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "1.0"}, "limit"),
     ({"cursor": "abc"}, "cursor"), ({"cursor": "-1"}, "cursor")],
)  # fmt: skip
def test_a_bad_page_query_is_a_422(hooks: FlaskClient, query: dict[str, str], field: str) -> None:
    webhook_id = subscribe(hooks, "http://127.0.0.1:9/")["webhookId"]

    response = hooks.get(f"/webhooks/{webhook_id}/deliveries", query_string=query, headers=ADMIN)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_unknown_subscriptions_and_deliveries_are_404_webhook_not_found(
    hooks: FlaskClient, db: sessionmaker[Session]
) -> None:
    mine = subscribe(hooks, "http://127.0.0.1:9/")["webhookId"]
    other = subscribe(hooks, "http://127.0.0.1:9/other")["webhookId"]
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
    others_delivery = deliveries(hooks, other)["items"][0]["deliveryId"]
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    calls = [
        ("GET", f"/webhooks/{unknown}"),
        ("DELETE", f"/webhooks/{unknown}"),
        ("GET", f"/webhooks/{unknown}/deliveries"),
        ("POST", f"/webhooks/{unknown}/deliveries/1/retry"),
        ("GET", "/webhooks/not-a-ulid"),
        ("GET", "/webhooks/%00"),
        ("POST", f"/webhooks/{mine}/deliveries/{others_delivery}/retry"),
        ("POST", f"/webhooks/{mine}/deliveries/999999/retry"),
        ("POST", f"/webhooks/{mine}/deliveries/x1/retry"),
        ("POST", f"/webhooks/{mine}/deliveries/{'9' * 19}/retry"),
    ]
    for method, path in calls:
        response = hooks.open(path, method=method, headers=ADMIN)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["code"] == "WEBHOOK_NOT_FOUND", (method, path)


# --- bad input ------------------------------------------------------------------------------

GOOD = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:9/"}, "events"),
        ({**GOOD, "url": 42}, "url"),
        ({**GOOD, "url": ""}, "url"),
        ({**GOOD, "url": None}, "url"),
        ({**GOOD, "url": "ftp://127.0.0.1/"}, "url"),
        ({**GOOD, "url": "http://127.0.0.1/\u0000"}, "url"),
        ({**GOOD, "url": "http://127.0.0.1/" + "a" * 2100}, "url"),
        ({**GOOD, "events": []}, "events"),
        ({**GOOD, "events": "*"}, "events"),
        ({**GOOD, "events": None}, "events"),
        ({**GOOD, "events": ["ticket.completed", "ticket.completed"]}, "events"),
        ({**GOOD, "events": ["ticket.exploded"]}, "events.0"),
        ({**GOOD, "events": [1]}, "events.0"),
        ({**GOOD, "description": 5}, "description"),
        ({**GOOD, "description": "x" * 501}, "description"),
        ({**GOOD, "description": "a\u0000b"}, "description"),
        ({**GOOD, "secret": "whsec_mine"}, "secret"),
        ({**GOOD, "disabled": True}, "disabled"),
    ],
)
def test_every_bad_field_of_a_subscription_is_a_422_naming_it(
    hooks: FlaskClient, body: dict[str, Any], field: str
) -> None:
    response = hooks.post("/webhooks", json=body, headers=ADMIN)

    assert response.status_code == 422, response.get_json()
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert field in [e["field"] for e in response.get_json()["errors"]]


@pytest.mark.parametrize("raw", ["", "null", "[]", "{", '"x"'])
def test_a_body_that_is_no_json_object_is_a_422(hooks: FlaskClient, raw: str) -> None:
    response = hooks.post("/webhooks", data=raw, content_type="application/json", headers=ADMIN)
    assert response.status_code == 422


def test_a_body_that_is_not_json_is_a_415(hooks: FlaskClient) -> None:
    response = hooks.post("/webhooks", data="url=x", headers=ADMIN)
    assert response.status_code == 415


def test_a_description_is_optional_and_may_be_null(hooks: FlaskClient) -> None:
    response = hooks.post("/webhooks", json={**GOOD, "description": None}, headers=ADMIN)
    assert response.status_code == 201
    assert response.get_json()["description"] is None


# --- the sweeper and the metrics ------------------------------------------------------------


def test_the_sweeper_wakes_subscriptions_with_due_deliveries_and_purges_old_ones(
    hooks: FlaskClient, sender: runtime.Runtime, redis_client: Any, db: sessionmaker[Session]
) -> None:
    webhook_id = subscribe(hooks, "http://127.0.0.1:9/")["webhookId"]
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        event_log.append(session, [event_log.promoted("e1", "old", 1)])
        session.execute(
            text(
                "UPDATE webhook_deliveries SET status = 'delivered', next_attempt_at = NULL,"
                " created_at = now() - interval '8 days' WHERE payload->>'userId' = 'old'"
            )
        )
    redis_client.delete(deliver_key(webhook_id))  # as after a Redis restart

    report = sweeper.sweep(sender)

    assert report.due_webhooks == [webhook_id]
    assert report.purged_deliveries == 1
    assert sent_tasks(sender).delivers() == [webhook_id]
    sweeper.sweep(sender)
    assert sent_tasks(sender).delivers() == [webhook_id]  # coalesced: its sender is queued


def test_the_metrics_show_attempts_by_outcome_and_the_age_of_the_oldest_due_delivery(
    hooks: FlaskClient, sender: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    with receiving(Receiver(statuses=[500])) as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with db.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliverer.deliver(sender, webhook_id)
        with db.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "bob", 1)])
            session.execute(
                text(
                    "UPDATE webhook_deliveries SET next_attempt_at = now() - interval '42 s'"
                    " WHERE payload->>'userId' = 'bob'"
                )
            )
        metrics = hooks.get("/metrics", headers=ADMIN).get_data(as_text=True)

    assert 'tessera_webhook_attempts_total{outcome="retrying"} 1.0' in metrics
    assert 'tessera_webhook_attempts_total{outcome="delivered"} 0.0' in metrics
    assert "tessera_webhook_deliveries_pending 2.0" in metrics
    oldest = next(
        line for line in metrics.splitlines() if line.startswith("tessera_webhook_oldest_due")
    )
    assert 42 <= float(oldest.split()[1]) < 60


def test_a_delivery_waits_for_its_turn_in_the_schedule(
    hooks: FlaskClient, make_sender: SenderFactory
) -> None:
    slow = make_sender(webhook_retry_schedule=(3600.0,))
    with receiving(Receiver(statuses=[500])) as receiver:
        webhook_id = subscribe(hooks, receiver.url)["webhookId"]
        with slow.sessions.begin() as session:
            event_log.append(session, [event_log.promoted("e1", "ann", 1)])
        deliverer.deliver(slow, webhook_id)
        again = deliverer.deliver(slow, webhook_id)
        item = deliveries(hooks, webhook_id)["items"][0]

    assert again.attempts == 0
    wait = dt.datetime.fromisoformat(item["nextAttemptAt"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < wait <= dt.timedelta(hours=1)


def test_an_offers_life_is_posted_to_a_subscription_naming_the_offer_messages(
    hooks: FlaskClient, sender: runtime.Runtime
) -> None:
    with receiving() as receiver:
        created = subscribe(hooks, receiver.url, ["offer.made", "offer.accepted", "offer.declined"])
        receiver.secret = created["secret"]
        create_users(hooks, "ann", "bob", "cy")
        create_event(hooks, "e1", capacity=1, promotion="offer", offerTtlSeconds=60)
        register(hooks, sender, "e1", "ann", "bob", "cy")
        hooks.delete("/events/e1/registrations/ann", headers=CLIENT)  # bob is offered the seat
        drain_event(sender, "e1")
        hooks.post("/events/e1/offers/bob/decline", headers=CLIENT)  # cy is offered it
        hooks.post("/events/e1/offers/cy/accept", headers=CLIENT)
        drain_event(sender, "e1")

        deliverer.deliver(sender, created["webhookId"])
        got = receiver.wait_for(4)

    assert all(r.verified for r in got)
    assert sorted((r.body["type"], r.body["data"]["userId"]) for r in got) == sorted(
        [
            ("offer.made", "bob"),
            ("offer.declined", "bob"),
            ("offer.made", "cy"),
            ("offer.accepted", "cy"),
        ]
    )
    made = next(r.body["data"] for r in got if r.body["type"] == "offer.made")
    assert set(made) == {"eventId", "userId", "seats", "expiresAt", "ledgerIndex"}
