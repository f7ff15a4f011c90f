"""The plans of the accept and apply paths' statements, as PostgreSQL caches them.

psycopg prepares a statement after a few executions, and PostgreSQL then settles on one generic
plan for it, chosen with the statistics of that moment: often an empty or young table. A
statement whose good plan depends on seeing its values (a bound `'pending'` against a partial
index) or on the table being known to be large (a join with `unnest`) then scans the whole
table on every pass as it grows. This ran a 20,000-ticket hot event quadratic in the database
before it was found with pg_stat_statements. So every statement those paths run is planned
here the way a cached plan is (`EXPLAIN (GENERIC_PLAN)`), on young tables, and no plan may
read a growing table from end to end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from tests.integration.conftest import CLIENT, create_event, create_users
from workers import apply, runtime

pytestmark = pytest.mark.integration

# Tables that grow with every command, from empty at a launch, faster than autovacuum's
# re-analysis (once a minute) refreshes the plans; users and events grow by an operator's hand.
GROWING = {"tickets", "registrations", "event_log", "ledger_entries"}
# Holds only the backlog, not the history: reading all of it is bounded by the work waiting.
BACKLOG_INDEXES = {"ix_tickets_pending_event_seq"}
_NAMED = re.compile(r"%\((\w+)\)s")


@pytest.fixture
def statements() -> Iterator[dict[str, Engine]]:
    """Each statement run, with the engine that ran it: its plan is made with that engine's
    session settings (the workers' differ, `APPLY_SESSION_SETTINGS`)."""
    seen: dict[str, Engine] = {}

    def record(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.setdefault(statement, conn.engine)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def _generic(statement: str) -> str | None:
    """The statement with `$n` parameters, for EXPLAIN (GENERIC_PLAN); None if not planned."""
    if not re.match(r"\s*(WITH|SELECT|INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
        return None
    numbers: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return _NAMED.sub(number, statement).replace("%%", "%")


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


def whole_table_reads(engine: Engine, statement: str, *, analyzed: bool = False) -> list[str]:
    """The nodes of the statement's generic plan, made while the growing tables are new and
    empty, that read a growing table end to end: the plan a fresh launch would cache. With
    `analyzed`, the tables' statistics say they are empty too, as once autovacuum (or an
    operator's ANALYZE after a restore) has looked at them before the launch."""
    session = Session(engine)
    try:
        # Transactional: the tables are back as they were after the rollback.
        session.execute(text(f"TRUNCATE {', '.join(sorted(GROWING))} CASCADE"))
        if analyzed:
            session.execute(text(f"ANALYZE {', '.join(sorted(GROWING))}"))
        row = session.execute(
            text("EXPLAIN (GENERIC_PLAN, FORMAT JSON) " + statement.replace(":", r"\:"))
        ).scalar_one()
    finally:
        session.rollback()
        session.close()
    plan = (row if isinstance(row, list) else json.loads(row))[0]["Plan"]
    found = []
    for node in _scans(plan):
        index = node.get("Index Name")
        if node["Node Type"] == "Seq Scan" and node["Relation Name"] in GROWING:
            found.append(f"Seq Scan on {node['Relation Name']}")
        elif index and "Index Cond" not in node and index not in BACKLOG_INDEXES:
            found.append(f"{node['Node Type']} of all of {index}")
    return found


def test_no_accept_or_apply_statement_reads_a_growing_table_end_to_end(
    client: FlaskClient,
    worker: runtime.Runtime,
    statements: dict[str, Engine],
) -> None:
    create_users(client, *(f"u{i}" for i in range(1, 7)))
    create_event(client, "e1", capacity=2)
    create_event(client, "e2", capacity=1, promotion="offer", offerTtlSeconds=60)
    statements.clear()  # from here on: the accept and apply paths only
    for user in ("u1", "u2", "u3", "u4"):
        assert (
            client.post(
                "/events/e1/registrations", json={"userId": user}, headers=CLIENT
            ).status_code
            == 202
        )
    for user in ("u5", "u6"):
        assert (
            client.post(
                "/events/e2/registrations", json={"userId": user}, headers=CLIENT
            ).status_code
            == 202
        )
    apply.drain(worker)
    assert client.delete("/events/e1/registrations/u1", headers=CLIENT).status_code == 202
    assert client.delete("/events/e2/registrations/u5", headers=CLIENT).status_code == 202
    apply.drain(worker)
    assert client.post("/events/e2/offers/u6/decline", headers=CLIENT).status_code == 202
    apply.drain(worker)
    planned = {g: e for s, e in statements.items() if (g := _generic(s)) is not None}
    assert len(planned) >= 10  # the paths really ran: locks, inserts, reads, updates, the log
    assert worker.engine in planned.values()

    offenders = {
        f"{'analyzed, ' if analyzed else ''}{' '.join(s.split())[:160]}": reads
        for s, engine in planned.items()
        for analyzed in (False, True)
        if (reads := whole_table_reads(engine, s, analyzed=analyzed))
    }

    assert offenders == {}, "\n".join(f"{r}: {s}" for s, r in offenders.items())
