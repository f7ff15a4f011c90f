"""`tessera import` against the live stack: a CSV becomes batches over HTTP, applied by the real
workers, summarised; bad files are refused before anything is sent; an interrupted import is
resumed by re-running it, without a single duplicate ticket."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Batch, Ticket
from tessera.tools.cli import main
from tessera.tools.importer import Row, chunk_request
from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY, Api
from tests.localstack import LocalStack

pytestmark = pytest.mark.e2e


def write_csv(path: Path, rows: list[str], header: str = "type,userId,eventId") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def run_import(stack: LocalStack, csv: Path, *args: str, key: str = ADMIN_KEY) -> Result:
    return CliRunner().invoke(
        main,
        ["import", str(csv), "--url", stack.base_url, "--key", key, "--wait-timeout", "60", *args],
    )


def ticket_count(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def cell(output: str, label: str) -> int:
    """A figure from the summary table's row `label`."""
    found = re.search(rf"^\W*{re.escape(label)}\s*\W\s*(\d+)", output, re.MULTILINE)
    assert found, f"no row {label!r} in:\n{output}"
    return int(found.group(1))


def test_importing_a_csv_applies_every_row_in_file_order_and_summarises_the_outcomes(
    admin: Api, stack: LocalStack, tmp_path: Path
) -> None:
    for user in ("ann", "bob", "cy", "dee"):
        admin.create_user(user)
    admin.create_event("launch", capacity=2, waitlist=True)
    admin.create_event("closed", capacity=1, waitlist=False)
    csv = write_csv(
        tmp_path / "commands.csv",
        [
            "register,ann,launch",
            ",bob,launch",  # an empty type means register
            "register,cy,launch",
            "register,dee,launch",
            "register,ann,closed",
            "register,bob,closed",
            "register,ghost,launch",
            "register,ann,nowhere",
            "unregister,ann,launch",  # frees a seat: cy, the head of the waitlist, takes it
            "unregister,bob,closed",
        ],
    )

    outcome = run_import(stack, csv, "--chunk-size", "3")

    assert outcome.exit_code == 0, outcome.output
    assert cell(outcome.output, "registered") == 3
    assert cell(outcome.output, "waitlisted") == 2
    assert cell(outcome.output, "unregistered") == 1
    assert cell(outcome.output, "denied") == 4
    assert cell(outcome.output, "denied EVENT_FULL") == 1
    assert cell(outcome.output, "denied USER_NOT_FOUND") == 1
    assert cell(outcome.output, "denied EVENT_NOT_FOUND") == 1
    assert cell(outcome.output, "denied NOT_REGISTERED") == 1
    assert cell(outcome.output, "failed") == 0
    assert "10 of 10 rows submitted in 4 batch(es) (0 replayed" in outcome.output
    seated = [r["userId"] for r in admin.call("GET", "/events/launch/registrations").json()]
    assert seated == ["bob", "cy"]
    waiting = admin.call("GET", "/events/launch/waitlist").json()
    assert [(w["userId"], w["position"]) for w in waiting] == [("dee", 1)]


def test_the_api_key_may_come_from_the_environment_and_a_client_key_may_import(
    admin: Api, stack: LocalStack, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    admin.create_user("ann")
    admin.create_event("launch", capacity=5)
    csv = write_csv(tmp_path / "one.csv", ["register,ann,launch"])

    outcome = CliRunner(env={"TESSERA_API_KEY": CLIENT_KEY}).invoke(
        main, ["import", str(csv), "--url", stack.base_url]
    )

    assert outcome.exit_code == 0, outcome.output
    assert cell(outcome.output, "registered") == 1
    assert ticket_count(db) == 1


def test_a_dry_run_reports_bad_rows_with_their_line_numbers_and_sends_nothing(
    admin: Api, stack: LocalStack, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    csv = write_csv(
        tmp_path / "bad.csv",
        [
            "register,ann,launch",
            "signup,bob,launch",
            "register,has space,launch",
            "",
            "unregister,cy",
            "register,dee," + "x" * 65,
        ],
    )

    outcome = run_import(stack, csv, "--dry-run")

    assert outcome.exit_code == 1, outcome.output
    lines = [line for line in outcome.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in lines] == ["line 3", "line 4", "line 6", "line 7"]
    assert "type: must be register or unregister (got 'signup')" in lines[0]
    assert "userId: must be 1-64 characters" in lines[1]
    assert "expected 3 fields, found 2" in lines[2]
    assert "eventId: must be 1-64 characters" in lines[3]
    assert "4 bad row(s)" in outcome.output
    assert ticket_count(db) == 0

    # without --dry-run the same file is refused whole, before anything is sent
    assert run_import(stack, csv).exit_code == 1
    assert ticket_count(db) == 0


def test_a_dry_run_of_a_good_file_passes_and_sends_nothing(
    admin: Api, stack: LocalStack, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    csv = write_csv(
        tmp_path / "good.csv", ["ann,launch,register", "bob,launch,"], "userId,eventId,type"
    )

    outcome = run_import(stack, csv, "--dry-run")

    assert outcome.exit_code == 0, outcome.output
    assert "2 rows, all valid" in outcome.output
    assert ticket_count(db) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "a header type,userId,eventId is required"),
        ("type,user,event\nregister,ann,launch\n", "the header must name the columns"),
        ("userId,eventId\nann,launch\n", "the header must name the columns"),
    ],
)
def test_a_file_without_the_right_header_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    csv = tmp_path / "headless.csv"
    csv.write_text(content)

    outcome = CliRunner().invoke(main, ["import", str(csv), "--dry-run"])

    assert outcome.exit_code == 1
    assert message in outcome.output


def test_an_interrupted_import_resumes_on_a_rerun_without_duplicate_tickets(
    admin: Api, stack: LocalStack, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    users = [f"u{i:02}" for i in range(25)]
    for user in users:
        admin.create_user(user)
    admin.create_event("launch", capacity=20, waitlist=True)
    csv = write_csv(tmp_path / "big.csv", [f"register,{user},launch" for user in users])

    # the "crash": only the first chunk reaches the API
    first = run_import(stack, csv, "--chunk-size", "10", "--max-chunks", "1")
    assert first.exit_code == 0, first.output
    assert "10 of 25 rows submitted in 1 batch(es)" in first.output
    assert ticket_count(db) == 10

    rerun = run_import(stack, csv, "--chunk-size", "10")

    assert rerun.exit_code == 0, rerun.output
    assert "25 of 25 rows submitted in 3 batch(es) (1 replayed" in rerun.output
    assert ticket_count(db) == 25
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 3
    assert cell(rerun.output, "registered") == 20
    assert cell(rerun.output, "waitlisted") == 5
    seated = [r["userId"] for r in admin.call("GET", "/events/launch/registrations").json()]
    assert seated == users[:20]  # file order is acceptance order

    # and a third run, after everything went through, sends nothing new at all
    again = run_import(stack, csv, "--chunk-size", "10")
    assert "(3 replayed" in again.output
    assert ticket_count(db) == 25


def test_a_refused_import_names_the_reason_and_exits_1(
    admin: Api, stack: LocalStack, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    csv = write_csv(tmp_path / "one.csv", ["register,ann,launch"])

    outcome = run_import(stack, csv, key="not-a-key")

    assert outcome.exit_code == 1
    assert "401 UNAUTHORIZED" in outcome.output
    assert ticket_count(db) == 0


def test_a_chunks_idempotency_key_depends_only_on_its_rows_and_position() -> None:
    rows = [Row(2, "register", "ann", "launch"), Row(3, "unregister", "bob", "launch")]
    moved = [Row(12, "register", "ann", "launch"), Row(13, "unregister", "bob", "launch")]

    body, key = chunk_request(rows, 0)

    assert chunk_request(moved, 0) == (body, key)  # line numbers are not content
    assert chunk_request(rows, 1)[1] != key
    assert chunk_request(rows[:1], 0)[1] != key
    assert re.fullmatch(r"import-[0-9a-f]{64}-0", key)
    assert json.loads(body) == {
        "items": [
            {"type": "register", "userId": "ann", "eventId": "launch"},
            {"type": "unregister", "userId": "bob", "eventId": "launch"},
        ]
    }
