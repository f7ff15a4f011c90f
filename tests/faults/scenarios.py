"""One fault scenario: fresh events and users, load from concurrent retrying clients, a fault
plan run while the load flows, then the backlog drained and every guarantee measured."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.faults.lab import CLIENT_KEY, FaultLab
from tests.faults.load import LoadPlan, LoadRunner, Sent
from tests.faults.verify import Figures, Report, evaluate

FaultPlan = Callable[[FaultLab, LoadRunner], None]


@dataclass(frozen=True)
class Scale:
    rate: float  # commands per second
    max_commands: int  # an upper bound; the fault plan's length decides the actual number
    events: int = 3
    capacity: int = 20
    clients: int = 8


@dataclass
class Outcome:
    figures: Figures
    sent: list[Sent]


def run_scenario(
    lab: FaultLab,
    report: Report,
    name: str,
    scale: Scale,
    fault_plan: FaultPlan,
    *,
    tail_seconds: float = 2.0,
    settle_timeout: float = 150.0,
) -> Outcome:
    started = time.monotonic()
    prefix = f"{name}-{uuid.uuid4().hex[:6]}"
    event_ids = [f"{prefix}-e{i}" for i in range(scale.events)]
    users = [f"{prefix}-u{i:05}" for i in range(scale.max_commands // scale.events + 1)]
    lab.seed_users(users)
    for event_id in event_ids:
        lab.create_event(event_id, scale.capacity)
    plan = LoadPlan(
        events=event_ids, users=users, rate=scale.rate, clients=scale.clients, key=CLIENT_KEY
    )
    lab.crashes.clear()
    with lab.supervised():
        runner = LoadRunner(lab.base_urls, plan).start()
        try:
            fault_plan(lab, runner)
            time.sleep(tail_seconds)  # commands keep arriving while the system recovers
        finally:
            sent = runner.stop()
        lab.heal()
        figures = evaluate(
            lab,
            name,
            sent,
            event_ids=event_ids,
            capacity=scale.capacity,
            started=started,
            settle_timeout=settle_timeout,
        )
    report.add(figures)
    return Outcome(figures, sent)


def answers_between(sent: Sequence[Sent], start: float, end: float) -> Counter[str]:
    """What the API answered to command attempts made entirely within [start, end]."""
    return Counter(
        attempt.answer
        for item in sent
        for attempt in item.attempts
        if start <= attempt.started and attempt.ended <= end
    )


def longest_attempt_between(sent: Sequence[Sent], start: float, end: float) -> float:
    """The longest single command attempt that started within [start, end]."""
    return max(
        (
            attempt.ended - attempt.started
            for item in sent
            for attempt in item.attempts
            if start <= attempt.started <= end
        ),
        default=0.0,
    )
