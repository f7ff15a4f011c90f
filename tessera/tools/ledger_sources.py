"""Where `tessera verify` and `tessera replay` read a ledger and the event's current views: the
HTTP API (`--url`) or the database itself (`DATABASE_URL` or the embedded one of --data-dir).

Thin I/O only; what is checked is `models.domain.ledger_verify`'s business.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models.domain import ledger
from models.domain.ledger_verify import Views
from models.domain.results import rfc3339
from models.domain.settings import SETTINGS
from tessera.tools.http_client import opener

if TYPE_CHECKING:
    from sqlalchemy import RowMapping

PAGE_LIMIT = 1000
STEADY_ATTEMPTS = 5  # times the views are read again while the event keeps changing


class SourceError(Exception):
    """The ledger could not be read (unknown event, no server, refused key): exit 2."""


@dataclass(frozen=True)
class Snapshot:
    """The entries, and the views of the state they end in (None if the event kept changing
    while they were read, or the source shows none)."""

    entries: list[ledger.Entry]
    views: Views | None


# --- over HTTP ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSource:
    base_url: str
    key: str | None
    timeout: float = 30.0

    def _get(self, path: str, *, optional: bool = False) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the operator's own API URL
            self.base_url.rstrip("/") + path, headers={"Accept": "application/json"}
        )
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with opener().open(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                problem = _problem(error.read())
            if optional and error.code == 404 and problem.get("code") == "NOT_FOUND":
                return None  # this server has no such view (an unknown route)
            said = f"{error.code} {problem.get('code') or ''} {problem.get('detail') or ''}"
            raise SourceError(f"GET {path}: {said.strip()}") from None
        except (OSError, ValueError) as error:
            raise SourceError(f"cannot read {self.base_url}{path}: {error}") from None

    def entries(self, event_id: str, after: int = 0) -> Iterator[ledger.Entry]:
        """Every entry after index `after`, page by page."""
        path = f"/events/{_quote(event_id)}/ledger"
        cursor: int | None = after
        while cursor is not None:
            page = self._get(f"{path}?after={cursor}&limit={PAGE_LIMIT}")
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise SourceError(f"GET {path}: not a page of entries")
            yield from page["items"]
            following = page.get("nextAfter")
            if following is not None and (not isinstance(following, int) or following <= cursor):
                raise SourceError(f"GET {path}: nextAfter {following!r} does not move on")
            cursor = following

    def views(self, event_id: str) -> Views:
        base = f"/events/{_quote(event_id)}"
        return Views(
            event=self._get(base),
            waitlist=self._get(f"{base}/waitlist"),
            offers=self._get(f"{base}/offers", optional=True),
            registrations=self._get(f"{base}/registrations", optional=True),
        )

    def snapshot(self, event_id: str, *, with_views: bool) -> Snapshot:
        entries = list(self.entries(event_id))
        if not with_views:
            return Snapshot(entries, None)
        return steady_views(entries, lambda: self.views(event_id), self.entries_after(event_id))

    def entries_after(self, event_id: str) -> Callable[[int], list[ledger.Entry]]:
        return lambda after: list(self.entries(event_id, after))


def steady_views(
    entries: list[ledger.Entry],
    read_views: Callable[[], Views],
    read_after: Callable[[int], list[ledger.Entry]],
) -> Snapshot:
    """Views read while the ledger stood still. Every change writes an entry in its own
    transaction, so when no entry was added across the reads, the views show the state the
    entries end in. If the event keeps changing, the views are left out (not compared)."""
    for _ in range(STEADY_ATTEMPTS):
        views = read_views()
        added = read_after(len(entries))
        if not added:
            return Snapshot(entries, views)
        entries = entries + added
    return Snapshot(entries, None)


def _quote(event_id: str) -> str:
    return urllib.parse.quote(event_id, safe="")


def _problem(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"detail": raw.decode("utf-8", "replace")[:200]}
    return body if isinstance(body, dict) else {}


# --- from the database --------------------------------------------------------------------

# The view's name for each column of the events table (only the ones the table has are shown).
EVENT_VIEW_NAMES = {
    "registered_count": "registeredCount",
    "registered_seats": "registeredSeats",
    "waitlisted_count": "waitlistCount",
    "waitlist_seats": "waitlistSeats",
    "offered_seats": "offeredSeats",
    "applied_count": "applicationCount",
    **{setting.column: setting.json for setting in SETTINGS},
}


LEDGER_SQL = 'SELECT entry FROM ledger_entries WHERE event_id = :event_id ORDER BY "index"'


@dataclass(frozen=True)
class DatabaseSource:
    database_url: str

    def snapshot(self, event_id: str, *, with_views: bool) -> Snapshot:
        """Entries and views from one read-only snapshot, so they always agree in time."""
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        from models.domain.errors import EventNotFound
        from models.storage import queries
        from models.storage.db import make_engine, make_sessionmaker

        engine = make_engine(self.database_url, pool_size=1, max_overflow=0)
        snapshot = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        try:
            with make_sessionmaker(snapshot).begin() as session:
                event = queries.get_event(session, event_id)
                rows = session.execute(text(LEDGER_SQL), {"event_id": event_id}).scalars()
                entries = [json.loads(raw) for raw in rows]
                views = None
                if with_views:
                    views = Views(
                        event=event_view(event),
                        waitlist=[_view(row) for row in queries.event_waitlist(session, event_id)],
                        offers=[_view(row) for row in queries.event_offers(session, event_id)],
                        registrations=[
                            _view(row) for row in queries.event_registrations(session, event_id)
                        ],
                    )
        except EventNotFound:
            raise SourceError(f"no event {event_id!r} in the database") from None
        except SQLAlchemyError as error:
            said = f"{error.__class__.__name__}: {error}"
            raise SourceError(f"cannot read the database: {said}") from None
        finally:
            engine.dispose()
        return Snapshot(entries, views)


def event_view(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """The ledger-relevant part of `GET /events/{id}`, from an events row."""
    view = {name: _plain(row[column]) for column, name in EVENT_VIEW_NAMES.items() if column in row}
    view["availableSpots"] = (
        row["capacity"] - row["registered_seats"] - (row.get("offered_seats") or 0)
    )
    return view


def _view(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """A query row as the API shows it: camelCase names, RFC 3339 times."""
    return {_camel(name): _plain(value) for name, value in row.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: object) -> object:
    return rfc3339(value) if isinstance(value, dt.datetime) else value
