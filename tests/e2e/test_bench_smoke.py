"""The benchmark at smoke scale, in-process: every scenario must give the right answer.

Timing is never asserted (the machine is shared and tiny sizes say nothing about speed); what
is asserted is that the benchmark runs end to end and that its correctness checks would catch
a wrong answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import verify
from benchmarks.cli import Options, run
from benchmarks.loops import Command
from benchmarks.loops import _replay as loops_replay
from benchmarks.memory_app import create as create_memory_app
from benchmarks.rawhttp import Connection, SseMessage, SseParser
from benchmarks.report import markdown
from benchmarks.scenarios import SCENARIOS
from benchmarks.waiters import PollRecord, StreamRecord, WaiterResults
from benchmarks.waiting import TicketRow, _poll_figures, _stream_figures
from models.storage.db import psycopg_url

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(180)
def test_every_scenario_is_right_at_smoke_scale(tmp_path: Path) -> None:
    out = tmp_path / "bench-results.json"
    # Its own embedded servers (never the test session's: that one may have another stack's
    # workers listening on its Redis), without fsync, and no docs written.
    report = run(Options(scale="smoke", out=out, docs=None, durable=False))

    wrong = {s.name: s.problems for s in report.scenarios if s.status not in {"ok", "skipped"}}
    assert report.correct, wrong
    ran = {s.name: s for s in report.scenarios}
    assert set(ran) == set(SCENARIOS)
    for name, result in ran.items():
        # only the batches endpoint may be missing (it is being written); nothing else skips
        assert result.status == "ok" or result.figures.get("reason") == "skipped: no /batches", (
            name,
            result.status,
        )
    assert ran["hot"].figures["applied"] == ran["hot"].figures["commands"]
    storm = ran["approval-storm"].figures  # compared with the hot event of the same run
    assert (storm["applied"], storm["hotSource"]) == (storm["commands"], "hot scenario of this run")
    assert storm["approvalsVsHot"] is not None
    assert ran["soak"].figures["rss"][-1]["workerMiB"] > 0
    # the on-sale draw happened and was seen over HTTP (its own checks ran: status ok)
    assert ran["onsale"].figures["drawVisibleMs"] is not None
    _assert_every_waiter_is_accounted_for(ran["waiters"].figures)
    # issue 27's reference: each loop ran against both servers, every command completed
    for name in ("few-clients", "sequential"):
        loop = ran[name].figures
        assert loop["completed"] == loop["commands"] > 0, (name, loop)
        assert loop["memory"]["completed"] == loop["memory"]["commands"] > 0, (name, loop)
        assert loop["vsMemory"] is not None, (name, loop)
    assert ran["sequential"].figures["latencyP50Ms"] is not None
    assert ran["memory-hot"].figures["accepted"] == ran["memory-hot"].figures["commands"]

    written = json.loads(out.read_text())
    assert written["correct"] is True
    assert set(written["scenarios"]) == set(SCENARIOS)
    table = markdown(report)
    assert "| target |" in table
    assert "1. Hot event" in table


def _assert_every_waiter_is_accounted_for(waiters: dict[str, Any]) -> None:
    """Timing is not asserted, but every waiter must end up answered: each long-poll saw
    its ticket completed, and each stream the server accepted delivered every completion of
    its event (a server at today's limits may refuse streams: a missed target, not wrong)."""
    assert waiters["longPolls"] > 0
    assert waiters["streams"] > 0
    assert waiters["longPollsOpenAtStart"] == waiters["longPolls"], waiters["timeline"][:3]
    answered = waiters["longPollsOnTime"] + waiters["longPollsLate"]
    assert answered == waiters["longPolls"], waiters
    assert waiters["streamsEstablished"] > 0
    assert waiters["streamMessagesExpected"] > 0
    assert waiters["streamMessagesMissing"] == 0, waiters
    assert waiters["releasesAccepted"] == waiters["sideEvents"]
    assert waiters["parkedAppliedBeforeRelease"] == 0  # parked: their events held
    assert waiters["rss"]["open"]["apiMiB"] > 0


def test_the_in_memory_app_applies_the_contract_rule_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reference seats, waitlists and promotes in the 202 itself, as the pure rules do,
    and refuses what the API refuses first (no key, an unknown event, a bad `wait`)."""
    monkeypatch.setenv("TESSERA_API_KEYS", "admin-key:admin,client-key:client")
    client = create_memory_app(events={"e": 1}).test_client()
    key = {"Authorization": "Bearer client-key"}
    first = client.post("/events/e/registrations", json={"userId": "a"}, headers=key)
    second = client.post("/events/e/registrations", json={"userId": "b"}, headers=key)
    leave = client.delete("/events/e/registrations/a", headers=key)
    assert first.status_code == second.status_code == leave.status_code == 202
    assert first.headers["Location"] == f"/tickets/{first.json['ticketId']}"
    assert [r.json["status"] for r in (first, second, leave)] == ["completed"] * 3
    assert second.json["result"]["position"] == 1
    assert leave.json["result"]["promotedUserIds"] == ["b"]
    polled = client.get(f"/tickets/{leave.json['ticketId']}?wait=30", headers=key)
    assert polled.json == leave.json
    assert client.get(f"/tickets/{leave.json['ticketId']}?wait=31", headers=key).status_code == 422
    unknown = client.post("/events/x/registrations", json={"userId": "a"}, headers=key)
    assert (unknown.status_code, unknown.json["code"]) == (404, "EVENT_NOT_FOUND")
    assert client.post("/events/e/registrations", json={"userId": "a"}).status_code == 401


def test_the_loop_check_catches_a_reference_that_skips_the_promotion() -> None:
    """The reference's results are replayed through the pure rules: an unregister that freed a
    seat without promoting the head of the line is reported."""
    from models.domain.results import ResultStatus

    def command(kind: str, user: str, sent: float, **result: Any) -> Command:
        return Command(
            kind, "e", user, sent, sent, 202, f"T{sent}", "completed",
            {"status": "", "code": None, "position": None, "promotedUserIds": []} | result,
        )  # fmt: skip

    commands = [
        command("register", "a", 1.0, status=ResultStatus.REGISTERED),
        command("register", "b", 2.0, status=ResultStatus.WAITLISTED, position=1),
        command("unregister", "a", 3.0, status=ResultStatus.UNREGISTERED),  # b not promoted
    ]
    problems = loops_replay(commands, capacity=1)
    assert len(problems) == 1, problems
    assert "unregister of a at e" in problems[0], problems


def test_raw_client_reads_chunked_sse_split_anywhere() -> None:
    """The waiter generator's own HTTP/1.1 client: chunked framing, SSE messages and a
    multi-byte character split across chunks, and keep-alive for the next request."""
    payload = (
        "retry: 1000\n\n: keep-alive\n\nid: 7\nevent: ticket.completed\n"
        'data: {"ticketId":"T1","userId":"é","completedAt":"2030-01-01T00:00:00.250Z"}\n\n'
    ).encode()
    split = payload.index("é".encode()) + 1  # between the two bytes of é
    pieces = [payload[:5], payload[5:split], payload[split:]]
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    second = b"HTTP/1.1 404 NOT FOUND\r\nContent-Length: 2\r\n\r\n{}"

    async def scenario() -> tuple[list[SseMessage], str | None, int, bytes]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            for piece in [body[:9], body[9:40], body[40:]]:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)
            await reader.readuntil(b"\r\n\r\n")
            writer.write(second)
            await writer.drain()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Connection("127.0.0.1", port, {})
        await connection.send("GET", "/events/e/updates")
        parser = SseParser()
        messages = []
        async for chunk in connection.body_chunks(await connection.read_head()):
            messages += parser.feed(chunk)
        status, answer = await connection.request("GET", "/tickets/x")
        connection.discard()
        server.close()
        return messages, parser.last_id, status.status, answer

    messages, last_id, status, answer = asyncio.run(scenario())
    assert [(m.event, m.id) for m in messages] == [("ticket.completed", "7")]
    assert json.loads(messages[0].data)["userId"] == "é"
    assert last_id == "7"
    assert (status, answer) == (404, b"{}")


def test_the_waiter_checks_catch_a_wrong_answer() -> None:
    """A long-poll told `completed` for a ticket the database holds pending, and a stream
    that sends another event's ticket, are wrong answers; a missing message is counted."""
    tickets = {
        "A": TicketRow("e1", "completed", 100.0),
        "B": TicketRow("e1", "pending", math.nan),
        "C": TicketRow("e2", "completed", 101.0),
        "D": TicketRow("e1", "completed", 119.5),  # after the waiters stopped listening
        "E": TicketRow("e1", "completed", 102.0),
    }
    waited = WaiterResults(
        polls=[
            PollRecord("A", sent=99.0, answered=100.5, outcome="completed"),
            PollRecord("B", sent=99.0, answered=100.5, outcome="completed"),
            PollRecord("D", sent=99.0),
            PollRecord("E", sent=99.0),
        ],
        streams=[
            StreamRecord(
                "e1", 200, established=50.0, ticket_ids=["C"], received=[101.1], completed_at=[None]
            ),
        ],
        releases=[],
        timeline=[],
        go_wall=99.0,
        open_seconds=1.0,
        loop_lag_max_ms=0.0,
        loop_lag_p99_ms=0.0,
        cpu_seconds=0.0,
        stopped_by="parent",
        stopped_wall=120.0,
    )
    problems: list[str] = []
    polls = _poll_figures(waited, tickets, problems)
    streams = _stream_figures(waited, tickets, problems)
    assert polls["longPollsOnTime"] == 1
    assert polls["longPollsUnanswered"] == 1  # E completed while its long-poll listened
    assert polls["longPollsTicketNotDone"] == 1  # D, too late to blame the server
    assert any("long-poll of B answered 'completed'" in p for p in problems), problems
    assert any("stream of e1 sent ticket C (of e2)" in p for p in problems), problems
    assert streams["streamMessagesExpected"] == 2  # A and E; not D
    assert streams["streamMessagesMissing"] == 2
    assert streams["streamsAllOnTime"] == 0


def test_the_checks_catch_a_wrong_answer(engine: Engine, db: sessionmaker[Session]) -> None:
    """A counter that disagrees with the rows, and waitlist positions out of apply order,
    are both reported: a fast wrong answer must fail the benchmark."""
    now = dt.datetime.now(dt.UTC)
    with db.begin() as session:
        session.execute(
            text("INSERT INTO users (user_id, name) VALUES ('a', 'a'), ('b', 'b'), ('c', 'c')")
        )
        session.execute(
            text(
                "INSERT INTO events (event_id, title, date, location, capacity, organizer,"
                " status, waitlist_enabled, registered_count, registered_seats,"
                " waitlisted_count, waitlist_seats, next_order)"
                " VALUES ('e', 't', '2030-01-01', 'l', 1, 'o', 'active', true, 1, 1, 2, 2, 4)"
            )
        )
        session.execute(
            text(
                "INSERT INTO registrations (event_id, user_id, standing, place_order, since)"
                " VALUES ('e', 'a', 'registered', 1, :now), ('e', 'b', 'waitlisted', 2, :now),"
                " ('e', 'c', 'waitlisted', 3, :now)"
            ),
            {"now": now},
        )
        for seq, (user, status, position) in enumerate(
            [("a", "registered", None), ("b", "waitlisted", 2), ("c", "waitlisted", 1)], 1
        ):
            result = {"status": status, "position": position}
            session.execute(
                text(
                    "INSERT INTO tickets (ticket_id, seq, type, user_id, event_id, owner, status,"
                    " result, created_at, completed_at) VALUES (:id, :seq, 'register', :user,"
                    " 'e', 'o', 'completed', CAST(:result AS jsonb), :now, :now)"
                ),
                {"id": f"T{seq}", "seq": seq, "user": user, "result": json.dumps(result),
                 "now": now},
            )  # fmt: skip

    import psycopg

    url = engine.url.render_as_string(hide_password=False)
    with psycopg.connect(psycopg_url(url)) as conn:
        assert verify.invariants(db) == []
        wrong_positions = verify.register_only_outcomes(conn)
        assert any("expected waitlisted/1" in p for p in wrong_positions), wrong_positions

    with db.begin() as session:
        session.execute(text("UPDATE events SET waitlisted_count = 1, waitlist_seats = 1"))
    broken = verify.invariants(db)
    assert any("equal the rows" in p for p in broken), broken


def test_the_replay_check_catches_an_approval_placed_behind_a_later_applicant(
    engine: Engine, db: sessionmaker[Session]
) -> None:
    """Approval keeps the applicant's place: b applied before c, so b approved after c still
    goes ahead of c. Tables and a result that put b behind c must fail the benchmark, while
    the tickets the rules agree with are not reported."""
    from models.domain.approval import Approve
    from models.domain.results import result_of
    from models.domain.rules import Admission, EventSeats, Register

    rules = EventSeats.empty(1, waitlist_enabled=True, admission=Admission.APPROVAL)
    commands = [
        ("register", Register("a")),
        ("register", Register("b")),
        ("register", Register("c")),
        ("approve", Approve("a")),
        ("approve", Approve("c")),
        ("approve", Approve("b")),
    ]
    results = [
        (kind, command.user_id, result_of(rules.handle(command))) for kind, command in commands
    ]
    assert results[-1][2]["position"] == 1  # the rules: b ahead of c
    results[-1][2]["position"] = 2  # the wrong answer: b behind c
    now = dt.datetime.now(dt.UTC)
    with db.begin() as session:
        session.execute(
            text("INSERT INTO users (user_id, name) VALUES ('a', 'a'), ('b', 'b'), ('c', 'c')")
        )
        session.execute(
            text(
                "INSERT INTO events (event_id, title, date, location, capacity, organizer,"
                " status, waitlist_enabled, admission, registered_count, registered_seats,"
                " waitlisted_count, waitlist_seats, next_order)"
                " VALUES ('e', 't', '2030-01-01', 'l', 1, 'o', 'active', true, 'approval',"
                " 1, 1, 2, 2, 4)"
            )
        )
        session.execute(
            text(
                "INSERT INTO registrations (event_id, user_id, standing, place_order, since)"
                " VALUES ('e', 'a', 'registered', 1, :now), ('e', 'c', 'waitlisted', 2, :now),"
                " ('e', 'b', 'waitlisted', 3, :now)"
            ),
            {"now": now},
        )
        for seq, (kind, user, result) in enumerate(results, 1):
            session.execute(
                text(
                    "INSERT INTO tickets (ticket_id, seq, type, user_id, event_id, owner, status,"
                    " result, created_at, completed_at) VALUES (:id, :seq, :kind, :user,"
                    " 'e', 'o', 'completed', CAST(:result AS jsonb), :now, :now)"
                ),
                {"id": f"T{seq}", "seq": seq, "kind": kind, "user": user,
                 "result": json.dumps(result), "now": now},
            )  # fmt: skip

    import psycopg

    url = engine.url.render_as_string(hide_password=False)
    with psycopg.connect(psycopg_url(url)) as conn:
        problems = verify.replayed_outcomes(conn)
    assert len(problems) == 2, problems
    assert "approve of b gave" in problems[0], problems
    assert problems[1] == "event e: the tables differ from the replayed rules"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("appliers", [1, 2])
def test_the_in_process_applier_bench_applies_every_ticket(
    appliers: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import applier

    arguments = ["--tickets", "300", "--events", "4", "--rounds", "1", "--limit", "50"]
    applier.main([*arguments, "--appliers", str(appliers), "--events-per-pass", "2", "--calls"])

    report = capsys.readouterr().out
    assert "round 0: 300 applied" in report, report
    if appliers == 1:
        assert "Python calls per pass" in report
