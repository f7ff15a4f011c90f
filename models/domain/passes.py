"""One pass of the rules over loaded events, pure: each event's seats and its steps (tickets in
acceptance order, the offers that ran out, a user's removal, an update) in; each ticket's result,
the ledger entries, the status updates and the seats' changes out. No I/O: the worker and the
synchronous services load, call `decide`, then save and publish what it returns.

Events do not affect each other. Within one, an offer that ended before a ticket was accepted
ends before that ticket is applied (by acceptance time, never by when the pass runs), and every
change is also chained onto the event's ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from models.domain import ledger
from models.domain.approval import Approve, Reject
from models.domain.results import denied, result_of
from models.domain.rules import (
    AcceptOffer,
    Command,
    DeclineOffer,
    DenialCode,
    Draw,
    EventSeats,
    ExpireOffers,
    Reconfigure,
    Register,
    RemoveUser,
    Unregister,
)
from models.domain.updates import TicketFacts, Update, drawn, settled, ticket_completed

# The rules' command each ticket type carries, at the ticket's acceptance time (windows and
# offers are judged by when a ticket was accepted, never by when it is applied).
TICKET_COMMANDS: dict[str, Callable[[str, int, dt.datetime], Command]] = {
    "register": Register,
    "unregister": lambda user_id, _, accepted_at: Unregister(user_id, accepted_at),
    "accept_offer": lambda user_id, _, accepted_at: AcceptOffer(user_id, accepted_at),
    "decline_offer": lambda user_id, _, __: DeclineOffer(user_id),
    # --- approval (#23) ---
    "approve": lambda user_id, _, __: Approve(user_id),
    "reject": lambda user_id, _, __: Reject(user_id),
}


def command_for(type_: object, user_id: str, seats: Any, accepted_at: dt.datetime) -> Command:
    """The command of a ticket of this type (ValueError for a type no ticket has)."""
    make = TICKET_COMMANDS.get(type_) if isinstance(type_, str) else None
    if make is None:
        raise ValueError(f"unknown ticket type {type_!r}")
    return make(user_id, seats, accepted_at)


def command_of(ticket: TicketFacts) -> Command:
    """The command a ticket carries (`TICKET_COMMANDS`)."""
    return command_for(ticket.type, ticket.user_id, ticket.seats, ticket.created_at)


@dataclass(frozen=True, slots=True)
class TicketStep:
    """A ticket to apply; `command` is None when its user does not exist (USER_NOT_FOUND)."""

    ticket: TicketFacts
    command: Command | None


Step = TicketStep | ExpireOffers | RemoveUser | Reconfigure | Draw


def ticket_lines(
    events: Iterable[str],
    batch: Iterable[TicketFacts],
    users: Collection[str],
    now: dt.datetime,
    *,
    whole: bool | Collection[str] = True,
) -> dict[str, list[Step]]:
    """Each event's steps for a worker's pass: its tickets in the batch's (`seq`) order, then
    the end of every offer that ran out by `now`, and a draw due by `now`. `whole`: the events
    (True: every one) whose every pending ticket the batch holds; for the others a draw waits
    for a pass that does (so every pre-queue register accepted before the opening is applied
    before the draw)."""
    lines: dict[str, list[Step]] = {event_id: [] for event_id in events}
    for ticket in batch:
        command = command_of(ticket) if ticket.user_id in users else None
        lines[ticket.event_id].append(TicketStep(ticket, command))
    for event_id, line in lines.items():
        line.append(ExpireOffers(now))
        if whole is True or (whole is not False and event_id in whole):
            line.append(Draw(now))
    return lines


def commands_of(line: Iterable[Step]) -> tuple[set[str], list[Command]]:
    """What a loader needs for a line: the users its commands name and the commands (so it
    reads as much of the line as they can need, `EventSeats.line_needed`)."""
    users: set[str] = set()
    commands: list[Command] = []
    for step in line:
        if isinstance(step, TicketStep):
            if step.command is not None:
                users.add(step.ticket.user_id)
                commands.append(step.command)
            continue
        if isinstance(step, RemoveUser):
            users.add(step.user_id)
        commands.append(step)
    return users, commands


@dataclass
class Decided:
    """A pass's work: each ticket's result by ticket id, the status updates in the order they
    happened, the ledger entries (in `chain`), and how many offers ran out."""

    chain: ledger.Chain
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: list[Update] = field(default_factory=list)
    expired: int = 0
    drawn: int = 0  # draws made (the on-sale draw, #24)


def decide(
    windows: Mapping[str, EventSeats],
    lines: Mapping[str, Sequence[Step]],
    chain: ledger.Chain,
    now: dt.datetime,
) -> Decided:
    """Run the rules over the events' lines, changing the seats in `windows` (what the caller
    saves) and sealing each change onto `chain`. A ticket for an event not in `windows` is
    denied EVENT_NOT_FOUND; `now` is the clock offers are made and completed by."""
    decided = Decided(chain)
    for event_id, line in lines.items():
        seats = windows.get(event_id)
        if seats is None:
            for step in line:
                if isinstance(step, TicketStep):
                    _complete(
                        decided,
                        step.ticket,
                        denied(DenialCode.EVENT_NOT_FOUND, step.ticket.user_id),
                        now,
                        0,
                    )
            continue
        seats.now = now
        _decide_line(decided, event_id, seats, line, now)
    return decided


def _decide_line(
    decided: Decided, event_id: str, seats: EventSeats, line: Sequence[Step], now: dt.datetime
) -> None:
    chain = decided.chain
    # Only the offers loaded as due can end in this pass (those it makes end after `now`).
    due = seats.next_expiry()
    for step in line:
        match step:
            case TicketStep(ticket, command):
                # The draw comes before any command accepted at or after the opening.
                _draw_if_due(decided, event_id, seats, ticket.created_at)
                if due is not None and due <= ticket.created_at:
                    _expire(decided, event_id, seats, min(ticket.created_at, now))
                    due = seats.next_expiry()
                if command is None:
                    result = denied(DenialCode.USER_NOT_FOUND, ticket.user_id)
                    outcome = None
                else:
                    outcome = seats.handle(command)
                    result = result_of(outcome)
                placed = chain.add(event_id, partial(_ticket_entry, ticket, result))
                index = chain.length(event_id)
                _complete(
                    decided,
                    ticket,
                    result if placed is None else placed.stamp(result),
                    now,
                    index,
                )
                if outcome is not None:
                    decided.updates += settled(event_id, outcome, index)
            case ExpireOffers(until):
                _expire(decided, event_id, seats, until)
            case Draw(until):
                _draw_if_due(decided, event_id, seats, until)
            case RemoveUser(user_id):
                removed = seats.remove_user(user_id)
                if removed.left is not None:
                    chain.add(event_id, partial(ledger.removed_entry, event_id, outcome=removed))
                decided.updates += settled(event_id, removed, chain.length(event_id))
            case Reconfigure():
                changed = seats.reconfigure(step)
                if changed.changes:
                    chain.add(event_id, partial(ledger.updated_entry, event_id, outcome=changed))
                decided.updates += settled(event_id, changed, chain.length(event_id))


def _expire(decided: Decided, event_id: str, seats: EventSeats, until: dt.datetime) -> None:
    for ended in seats.expire_offers(until):
        decided.chain.add(event_id, partial(ledger.expired_entry, event_id, outcome=ended))
        decided.updates += settled(event_id, ended, decided.chain.length(event_id))
        decided.expired += 1


def _draw_if_due(decided: Decided, event_id: str, seats: EventSeats, by: dt.datetime) -> None:
    """The draw, if due by then, closed by the event's ledger head: one entry, one message per
    party."""
    opens = seats.draw_due()
    if opens is None or opens > by:
        return
    head = decided.chain.heads.get(event_id)
    closing = head.hash if head is not None and head.length > 0 else ledger.GENESIS_HASH
    outcome = seats.draw(closing)
    placed = decided.chain.add(event_id, partial(ledger.draw_entry, event_id, outcome=outcome))
    index = decided.chain.length(event_id) if placed is None else placed.index
    decided.updates += drawn(event_id, outcome, index)
    decided.drawn += 1


def _complete(
    decided: Decided,
    ticket: TicketFacts,
    result: dict[str, Any],
    now: dt.datetime,
    ledger_index: int,
) -> None:
    decided.results[ticket.ticket_id] = result
    decided.updates.append(ticket_completed(ticket, "completed", result, now, ledger_index))


def _ticket_entry(ticket: TicketFacts, result: dict[str, Any], index: int) -> ledger.Entry:
    return ledger.ticket_entry(
        event_id=ticket.event_id,
        index=index,
        ticket_id=ticket.ticket_id,
        type_=ticket.type,
        user_id=ticket.user_id,
        seats=ticket.seats,
        accepted_at=ticket.created_at,
        result=result,
    )
