"""Apply order against ticket sequence order, with two accepting transactions that commit in
the opposite order of their sequence numbers (what two concurrent requests can do, and what the
postgres-restarts drill caught once under load)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Ticket
from models.storage.tickets import NewTicket, insert_tickets
from tessera.config import Settings
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.test_seats_persistence import make_event, make_users
from workers import runtime

pytestmark = pytest.mark.integration


class NoSender:
    def send_task(self, name: str, args: list[Any], **options: Any) -> object:
        return None


@pytest.fixture
def rt(
    server_urls: ServerUrls, db: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[runtime.Runtime]:
    built = runtime.build(
        Settings(database_url=server_urls.database_url, redis_url=server_urls.redis_url),
        NoSender(),
    )
    yield built
    built.engine.dispose()
    built.redis.close()


def test_a_ticket_with_a_smaller_seq_committed_last_is_still_applied_first(
    db: sessionmaker[Session], rt: runtime.Runtime
) -> None:
    make_event(db, capacity=1)
    make_users(db, "ann", "bob")
    first = db()
    first.begin()
    (ann,) = insert_tickets(first, [NewTicket("register", "ann", "e1")], owner="t")  # seq 1

    def second_request() -> None:
        with db.begin() as session:
            insert_tickets(session, [NewTicket("register", "bob", "e1")], owner="t")  # seq 2

    racer = threading.Thread(target=second_request)
    racer.start()
    racer.join(2.0)  # commits at once, unless accepting waits for ann's transaction
    # A wake-up for bob's ticket arrives while ann's is still uncommitted.
    drainer = threading.Thread(target=drain_event, args=(rt, "e1"))
    drainer.start()
    drainer.join(1.0)
    first.commit()
    first.close()
    racer.join(10)
    drainer.join(10)
    drain_event(rt, "e1")  # and one for ann's

    with db.begin() as session:
        rows = session.execute(select(Ticket.user_id, Ticket.seq, Ticket.result)).all()
    by_seq = sorted(rows, key=lambda row: row.seq)
    assert [row.user_id for row in by_seq] == ["ann", "bob"]
    assert [row.result["status"] for row in by_seq] == ["registered", "waitlisted"], ann
