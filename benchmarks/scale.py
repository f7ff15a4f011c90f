"""Scenario sizes: `full` (the figures of record, minutes) and `smoke` (seconds, for tests)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int  # concurrent HTTP clients of the closed-loop scenarios
    hot_registers: int
    hot_capacity: int
    spread_registers: int
    spread_events: int
    spread_capacity: int
    bulk_items: int
    bulk_batch_items: int
    bulk_events: int
    bulk_capacity: int
    bulk_clients: int
    moderate_seconds: float
    moderate_events: int
    moderate_default_rate: float  # when no applied rate was measured in this run
    moderate_threads: int
    soak_commands: int
    soak_checkpoint: int  # RSS is sampled every this many commands (one round of pairs)
    soak_single_share: float  # of each round, sent as single commands (the rest as batches)
    soak_batch_items: int
    soak_events: int
    soak_capacity: int
    naive_registers: int
    drain_tickets: int
    naive_drain_tickets: int
    db_limit_rows: int
    db_limit_rounds: int
    http_limit_requests: int
    waiters_long_polls: int  # open GET /tickets/{id}?wait=, one per parked ticket
    waiters_streams: int  # open GET /events/{id}/updates
    waiters_hot_streams: int  # of those, on the hot event (each gets every hot completion)
    waiters_side_events: int  # events whose tickets are parked, then released one by one
    waiters_registers: int  # the hot load beside the waiters
    waiters_release_delay: float  # seconds after the hot load starts, before the first release
    waiters_release_seconds: float  # from the first release to the last
    waiters_time_limit: float  # the most the hot load beside the waiters may run
    approval_applicants: int  # applications to one approval event, then each approved
    approval_capacity: int
    loop_clients: int  # few-clients / sequential: clients, each with its own users and events
    loop_users: int  # per client
    loop_events: int  # per client
    loop_capacity: int  # per event: below the users an event holds, so lines and promotions
    loop_seconds: float  # how long each client keeps sending, on each server
    apply_timeout: float  # how long the workers may take to finish after the last 202
    scenario_time_limit: float  # the most any one load phase may run


FULL = Scale(
    name="full",
    clients=64,
    hot_registers=20_000,
    hot_capacity=2_000,
    spread_registers=20_000,
    spread_events=1_000,
    spread_capacity=10,
    bulk_items=100_000,
    bulk_batch_items=10_000,
    bulk_events=100,
    bulk_capacity=500,
    bulk_clients=2,
    moderate_seconds=30.0,
    moderate_events=100,
    moderate_default_rate=100.0,
    moderate_threads=64,
    soak_commands=200_000,
    soak_checkpoint=50_000,
    soak_single_share=0.1,
    soak_batch_items=1_000,
    soak_events=1_000,
    soak_capacity=30,
    naive_registers=4_000,
    drain_tickets=20_000,
    naive_drain_tickets=4_000,
    db_limit_rows=20_000,
    db_limit_rounds=3,
    http_limit_requests=20_000,
    waiters_long_polls=2_000,
    waiters_streams=1_000,
    waiters_hot_streams=10,
    waiters_side_events=100,
    waiters_registers=20_000,
    waiters_release_delay=2.0,
    waiters_release_seconds=20.0,
    waiters_time_limit=120.0,
    approval_applicants=5_000,
    approval_capacity=1_000,
    loop_clients=16,
    loop_users=12,
    loop_events=2,
    loop_capacity=4,
    loop_seconds=20.0,
    apply_timeout=300.0,
    scenario_time_limit=600.0,
)

SMOKE = Scale(
    name="smoke",
    clients=8,
    hot_registers=240,
    hot_capacity=24,
    spread_registers=240,
    spread_events=24,
    spread_capacity=4,
    bulk_items=600,
    bulk_batch_items=200,
    bulk_events=6,
    bulk_capacity=40,
    bulk_clients=2,
    moderate_seconds=2.0,
    moderate_events=5,
    moderate_default_rate=20.0,
    moderate_threads=8,
    soak_commands=480,
    soak_checkpoint=120,
    soak_single_share=0.25,
    soak_batch_items=30,
    soak_events=12,
    soak_capacity=3,
    naive_registers=60,
    drain_tickets=200,
    naive_drain_tickets=40,
    db_limit_rows=500,
    db_limit_rounds=1,
    http_limit_requests=200,
    waiters_long_polls=16,
    waiters_streams=8,
    waiters_hot_streams=2,
    waiters_side_events=4,
    waiters_registers=240,
    waiters_release_delay=0.5,
    waiters_release_seconds=1.5,
    waiters_time_limit=30.0,
    approval_applicants=200,
    approval_capacity=40,
    loop_clients=4,
    loop_users=6,
    loop_events=1,
    loop_capacity=2,
    loop_seconds=1.5,
    apply_timeout=45.0,
    scenario_time_limit=60.0,
)

SCALES = {scale.name: scale for scale in (FULL, SMOKE)}
