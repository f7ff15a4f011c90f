"""`tessera import`: a CSV of register/unregister commands sent to a running API as batches.

The file is read twice, streaming: once to validate every row (nothing is sent if any row is
bad), once to send it in chunks, one `POST /batches` each, in file order and one at a time, so
the file's order is the acceptance order and hence, per event, the order of application.
Each chunk carries an Idempotency-Key derived from its content and position, so re-running an
import after a crash resubmits nothing: the API replays the chunks it already accepted (for 24 h,
and as long as the same API key and chunk size are used).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
from rich.progress import Progress as Bars
from rich.table import Table

from models.domain.identity import ID_PATTERN
from tessera.tools.http_client import opener

COLUMNS = ("type", "userId", "eventId")
OPTIONAL_COLUMN = "seats"
TYPES = ("register", "unregister")
MAX_CHUNK_ROWS = 10_000  # the API's limit per batch
TICKET_PAGE = 500
_ID = re.compile(ID_PATTERN)


class ImportFailed(Exception):
    """The import cannot go on: an unreadable file, or an API that refuses or cannot be reached."""


# --- reading and validating -------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    line: int
    type: str
    user_id: str
    event_id: str
    seats: int | None = None  # a register's party size, from the optional `seats` column

    def item(self) -> dict[str, str | int]:
        item: dict[str, str | int] = {
            "type": self.type,
            "userId": self.user_id,
            "eventId": self.event_id,
        }
        if self.seats is not None:
            item["seats"] = self.seats
        return item


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str


def parse_row(line: int, fields: list[str], order: tuple[int, ...]) -> Row | BadRow:
    """One data row, by the API's rules: `type` register/unregister (empty means register),
    ids of 1-64 characters of A-Z a-z 0-9 _ -, and (with the optional `seats` column) a
    register's party of 1-50 seats (empty means 1; an unregister leaves it empty)."""
    if len(fields) != len(order):
        return BadRow(line, f"expected {len(order)} fields, found {len(fields)}")
    kind, user_id, event_id, *rest = (fields[i] for i in order)
    problems: list[str] = []
    kind = kind or "register"
    if kind not in TYPES:
        problems.append(f"type: must be register or unregister (got {kind!r})")
    for name, value in (("userId", user_id), ("eventId", event_id)):
        if not _ID.fullmatch(value):
            problems.append(f"{name}: must be 1-64 characters of A-Z a-z 0-9 _ - (got {value!r})")
    seats: int | None = None
    raw_seats = rest[0].strip() if rest else ""
    if raw_seats:
        if not raw_seats.isascii() or not raw_seats.isdigit() or not 1 <= int(raw_seats) <= 50:
            problems.append(f"seats: must be an integer from 1 to 50 (got {raw_seats!r})")
        elif kind == "unregister":
            problems.append("seats: only a register takes seats")
        else:
            seats = int(raw_seats)
    if problems:
        return BadRow(line, "; ".join(problems))
    return Row(line, kind, user_id, event_id, seats)


def read_rows(path: Path) -> Iterator[Row | BadRow]:
    """The file's data rows, streamed. A missing or wrong header is an ImportFailed."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ImportFailed(f"{path} is empty: a header {','.join(COLUMNS)} is required")
            names = [name.strip() for name in header]
            if sorted(names) not in (sorted(COLUMNS), sorted((*COLUMNS, OPTIONAL_COLUMN))):
                raise ImportFailed(
                    f"{path}: the header must name the columns {','.join(COLUMNS)}"
                    f" (and optionally {OPTIONAL_COLUMN}) (found {','.join(names)})"
                )
            order = tuple(names.index(n) for n in (*COLUMNS, OPTIONAL_COLUMN) if n in names)
            for fields in reader:
                if not fields:  # blank lines separate nothing in CSV
                    continue
                yield parse_row(reader.line_num, fields, order)
    except UnicodeDecodeError as error:
        raise ImportFailed(f"{path} is not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise ImportFailed(f"{path}: not valid CSV ({error})") from None
    except OSError as error:
        raise ImportFailed(f"cannot read {path}: {error.strerror}") from None


@dataclass
class Validation:
    rows: int = 0
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0

    @property
    def ok(self) -> bool:
        return self.bad_count == 0


def validate_file(path: Path, keep: int = 1000) -> Validation:
    """Count the good rows and collect the bad ones (the first `keep` of them)."""
    found = Validation()
    for row in read_rows(path):
        if isinstance(row, BadRow):
            found.bad_count += 1
            if len(found.bad) < keep:
                found.bad.append(row)
        else:
            found.rows += 1
    return found


def chunks(path: Path, size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in read_rows(path):
        if isinstance(row, BadRow):  # the file changed since it was validated
            raise ImportFailed(f"line {row.line}: {row.message}")
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def chunk_request(rows: list[Row], index: int) -> tuple[bytes, str]:
    """The chunk's body and its Idempotency-Key: the same rows at the same position always
    give the same key, so a re-run is replayed by the API instead of applied again."""
    body = json.dumps({"items": [row.item() for row in rows]}, separators=(",", ":")).encode()
    return body, f"import-{hashlib.sha256(body).hexdigest()}-{index}"


# --- HTTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: Any


RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})


class ApiClient:
    """Just enough HTTP for the import, on the standard library. Transient failures (the API
    restarting, 429, 503, a key still in flight) are retried with backoff: a POST is safe to
    repeat because it always carries its Idempotency-Key."""

    def __init__(
        self,
        base_url: str,
        key: str | None,
        *,
        timeout: float = 60.0,
        attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.attempts = attempts
        self.sleep = sleep
        self._opener = opener()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        delay = 0.25
        for attempt in range(1, self.attempts + 1):
            try:
                reply = self._once(method, path, body, headers or {})
            except OSError as error:
                if attempt == self.attempts:
                    raise ImportFailed(
                        f"cannot reach the API at {self.base_url}: {error}"
                    ) from None
                self.sleep(delay)
            else:
                if reply.status not in RETRYABLE or attempt == self.attempts:
                    return reply
                self.sleep(_retry_after(reply) or delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def _once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        request = urllib.request.Request(  # noqa: S310 - the operator's own API URL
            self.base_url + path, data=body, method=method, headers=dict(headers)
        )
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Reply(response.status, response.headers, _json(response.read()))
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, _json(error.read()))

    def expect(self, status: int, reply: Reply, what: str) -> dict[str, Any]:
        if reply.status != status or not isinstance(reply.body, dict):
            raise ImportFailed(f"{what}: {describe(reply)}")
        return reply.body


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


def _retry_after(reply: Reply) -> float | None:
    value = reply.headers.get("Retry-After") if reply.headers else None
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None


def describe(reply: Reply) -> str:
    """A refusal as the operator should read it: the problem's code, detail and fields."""
    body = reply.body
    if isinstance(body, dict) and "code" in body:
        text = f"{reply.status} {body['code']}: {body.get('detail', '')}"
        errors = body.get("errors") or []
        listed = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        return text + (f" [{listed}{more}]" if listed else "")
    return f"HTTP {reply.status}: {body!r}"


# --- the import -------------------------------------------------------------------------


@dataclass
class Submitted:
    index: int
    batch_id: str
    total: int
    replayed: bool
    summary: dict[str, Any] | None = None

    @property
    def done(self) -> int:
        if self.summary is None:
            return 0
        return int(self.summary["completed"]) + int(self.summary["failed"])


@dataclass
class Report:
    rows: int = 0  # rows in the file
    batches: list[Submitted] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)  # completed tickets by status
    denied: Counter[str] = field(default_factory=Counter)  # denied tickets by code
    failed: int = 0
    pending: int = 0
    failed_tickets: list[str] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return sum(b.total for b in self.batches)

    @property
    def replayed(self) -> int:
        return sum(1 for b in self.batches if b.replayed)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.pending == 0


class Progress:
    """What the import reports as it goes; the CLI draws progress bars from it."""

    def submitted(self, rows: int) -> None:
        """Another `rows` rows were accepted (or replayed) by the API."""

    def applied(self, rows_done: int) -> None:
        """So many submitted rows are no longer pending."""


def submit_chunks(
    client: ApiClient,
    path: Path,
    report: Report,
    *,
    chunk_size: int = MAX_CHUNK_ROWS,
    max_chunks: int | None = None,
    progress: Progress | None = None,
) -> None:
    progress = progress or Progress()
    for index, rows in enumerate(chunks(path, chunk_size)):
        if max_chunks is not None and index >= max_chunks:
            return
        body, key = chunk_request(rows, index)
        reply = client.call("POST", "/batches", body, {"Idempotency-Key": key})
        accepted = client.expect(
            202, reply, f"chunk {index + 1} (lines {rows[0].line}-{rows[-1].line}) was refused"
        )
        replayed = reply.headers.get("Idempotent-Replayed") == "true"
        report.batches.append(Submitted(index, accepted["batchId"], accepted["total"], replayed))
        progress.submitted(len(rows))


def wait_for_batches(
    client: ApiClient,
    report: Report,
    *,
    timeout: float,
    poll: float = 0.5,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll the batches until none of their tickets is pending, or until `timeout`.

    Batches are applied in acceptance order, so a round stops at the first batch still
    pending: later ones are rarely done before it, and a big import then costs a request or
    two per round instead of one per batch (which the API's rate limit would refuse)."""
    progress = progress or Progress()
    deadline = clock() + timeout
    open_batches = list(report.batches)
    while open_batches:
        batch = open_batches[0]
        reply = client.call("GET", f"/batches/{batch.batch_id}")
        batch.summary = client.expect(200, reply, f"batch {batch.batch_id} cannot be read")
        progress.applied(sum(b.done for b in report.batches))
        if not batch.summary["pending"]:
            open_batches.pop(0)
            continue
        if clock() >= deadline:
            # a last look at the rest, so the report counts what did get done
            for late in open_batches[1:]:
                reply = client.call("GET", f"/batches/{late.batch_id}")
                late.summary = client.expect(200, reply, f"batch {late.batch_id} cannot be read")
            return
        time.sleep(poll)


def tally(client: ApiClient, report: Report, keep_failed: int = 20) -> None:
    """Totals from the batches' counts; denial codes need the tickets themselves, so only
    batches with denials (or failures) are paged through."""
    for batch in report.batches:
        summary = batch.summary or {}
        report.results.update({k: int(v) for k, v in summary.get("results", {}).items()})
        report.failed += int(summary.get("failed", 0))
        report.pending += int(summary.get("pending", batch.total))
        if summary.get("results", {}).get("denied") or summary.get("failed"):
            for ticket in batch_tickets(client, batch.batch_id):
                result = ticket.get("result") or {}
                if ticket["status"] == "completed" and result.get("status") == "denied":
                    report.denied[str(result.get("code"))] += 1
                elif ticket["status"] == "failed" and len(report.failed_tickets) < keep_failed:
                    report.failed_tickets.append(ticket["ticketId"])


def batch_tickets(client: ApiClient, batch_id: str) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        query = f"?limit={TICKET_PAGE}" + (f"&cursor={cursor}" if cursor else "")
        reply = client.call("GET", f"/batches/{batch_id}/tickets{query}")
        page = client.expect(200, reply, f"the tickets of batch {batch_id} cannot be read")
        yield from page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return


# --- on the console ---------------------------------------------------------------------


class _ConsoleProgress(Progress):
    def __init__(self, bars: Bars, sending: Any, applying: Any) -> None:
        self.bars = bars
        self.sending = sending
        self.applying = applying

    def submitted(self, rows: int) -> None:
        self.bars.advance(self.sending, rows)

    def applied(self, rows_done: int) -> None:
        self.bars.update(self.applying, completed=rows_done)


def run(
    console: Console,
    client: ApiClient,
    path: Path,
    report: Report,
    *,
    chunk_size: int = MAX_CHUNK_ROWS,
    max_chunks: int | None = None,
    wait_timeout: float = 600.0,
) -> None:
    """Submit the (validated) file, wait for it to be applied and tally it, with progress bars
    for the submission and for the completion."""
    planned = report.rows
    if max_chunks is not None:
        planned = min(planned, max_chunks * chunk_size)
    with Bars(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        progress = _ConsoleProgress(
            bars,
            bars.add_task("submitting", total=planned),
            bars.add_task("applying", total=planned),
        )
        submit_chunks(
            client, path, report, chunk_size=chunk_size, max_chunks=max_chunks, progress=progress
        )
        wait_for_batches(client, report, timeout=wait_timeout, progress=progress)
    tally(client, report)


def print_summary(console: Console, report: Report) -> None:
    table = Table(title="Import")
    table.add_column("outcome")
    table.add_column("tickets", justify="right")
    for status in ("registered", "waitlisted", "unregistered", "denied"):
        table.add_row(status, str(report.results[status]))
    for code, count in sorted(report.denied.items()):
        table.add_row(f"  denied {code}", str(count))
    table.add_row("failed", f"[red]{report.failed}[/red]" if report.failed else "0")
    if report.pending:
        table.add_row("still pending", f"[yellow]{report.pending}[/yellow]")
    console.print(table)
    console.print(
        f"{report.submitted} of {report.rows} rows submitted in {len(report.batches)} batch(es)"
        f" ({report.replayed} replayed from an earlier run)"
    )
    if report.submitted < report.rows:
        console.print("Re-run without --max-chunks to submit the rest.")
    for ticket_id in report.failed_tickets:
        console.print(f"[red]failed ticket {ticket_id}[/red]")
    if report.pending:
        console.print("[yellow]some commands are still pending; re-run to wait again[/yellow]")
