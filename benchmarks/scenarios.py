"""The scenarios and the reference points, each ending in a correctness check.

Every scenario starts from an empty database, seeds its users and events with COPY, drives the
stack over HTTP, waits (bounded) until no ticket is pending, reads its timings from the tickets
(`createdAt` is stamped by the API when it accepts, `completedAt` by the worker when it
applies) and then checks that the answer was right. A wrong answer fails the scenario whatever
its speed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import statistics
import time
import traceback
from collections.abc import Callable
from typing import Any

import requests

from benchmarks import approval, loops, onsale, verify, waiting
from benchmarks.harness import (
    Bench,
    Figures,
    QueueDepth,
    ScenarioResult,
    accepted_figures,
    applied_figures,
    common_checks,
    ms,
    per_second,
    percentile,
    profiled,
    settle,
    worker_batches,
    worker_log_offset,
)
from benchmarks.load import (
    Call,
    Target,
    json_call,
    poisson_offsets,
    run_closed,
    run_open,
)
from benchmarks.stack import BenchStack, CpuMeter
from tessera.tools.processes import api_argv
from tessera.tools.servers import free_port

# --- scenarios --------------------------------------------------------------------------


def hot(bench: Bench) -> ScenarioResult:
    """1. One event, capacity 10 % of the registers, waitlist on, every client at once."""
    return _hot_event(bench, "hot", bench.scale.hot_registers, bench.scale.hot_capacity)


def hot_fill(bench: Bench) -> ScenarioResult:
    """1b. The hot event with parties of 1-4 seats under `fill` (bypass limit 3): beside `hot`,
    the cost of fair multi-seat lines. Capacity in seats, so about as many parties are seated;
    every outcome is checked against a replay of the pure rules in apply order."""
    scale = bench.scale
    return _hot_event(
        bench, "hot-fill", scale.hot_registers, scale.hot_capacity * 5 // 2, max_party=4
    )


def hot_no_ledger(bench: Bench) -> ScenarioResult:
    """1c. The hot event on an event from before ledgers (nothing recorded): beside `hot`, what
    writing the ledger costs."""
    scale = bench.scale
    return _hot_event(bench, "hot-no-ledger", scale.hot_registers, scale.hot_capacity, ledger=False)


def _hot_event(
    bench: Bench,
    name: str,
    registers: int,
    capacity: int,
    max_party: int = 1,
    *,
    ledger: bool = True,
) -> ScenarioResult:
    stack = bench.stack
    stack.wipe()
    users = [f"h{i:06d}" for i in range(registers)]
    stack.seed_users(users)
    policy = "strict" if max_party == 1 else "fill"
    stack.seed_events(["hot"], capacity, max_party_size=max_party, policy=policy, ledger=ledger)
    parties = random.Random(11)  # noqa: S311 - a load, not a secret
    calls = [
        json_call(
            "POST",
            "/events/hot/registrations",
            {"userId": u} if max_party == 1 else {"userId": u, "seats": parties.randint(1, 4)},
        )
        for u in users
    ]
    offset = worker_log_offset(stack)
    result = ScenarioResult(name, "", "ok")
    with profiled(bench, name) as profile, QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        results = bench.closed(calls)
        problems = settle(bench)
    if profile is not None:
        result.profiles = profile.profiles
    result.figures = {
        "commands": registers,
        **accepted_figures(results),
        **applied_figures(bench),
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(registers),
    }
    problems += common_checks(bench, results, ["hot"] * registers, registers)
    if max_party == 1:
        problems += verify.register_only_outcomes(stack.conn)
    problems += verify.replayed_outcomes(stack.conn)
    if ledger:
        problems += verify.ledgers_verify(stack.urls.database_url, ["hot"])
    result.problems = problems
    return result


def spread(bench: Bench) -> ScenarioResult:
    """2. The same number of registers over many events (many small batches)."""
    stack = bench.stack
    scale = bench.scale
    stack.wipe()
    count = scale.spread_registers
    events = [f"e{i:05d}" for i in range(scale.spread_events)]
    users = [f"s{i:06d}" for i in range(count)]
    stack.seed_users(users)
    stack.seed_events(events, scale.spread_capacity)
    event_of = [events[i % len(events)] for i in range(count)]
    calls = [
        json_call("POST", f"/events/{event_of[i]}/registrations", {"userId": users[i]})
        for i in range(count)
    ]
    offset = worker_log_offset(stack)
    with QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        results = bench.closed(calls)
        problems = settle(bench)
    figures = {
        "commands": count,
        "events": len(events),
        **accepted_figures(results),
        **applied_figures(bench),
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    problems += common_checks(bench, results, event_of, count)
    problems += verify.register_only_outcomes(stack.conn)
    return ScenarioResult("spread", "", "ok", figures, problems)


def bulk(bench: Bench) -> ScenarioResult:
    """3. Registrations through POST /batches, 10,000 items per batch."""
    stack = bench.stack
    scale = bench.scale
    stack.wipe()
    if not _has_batches(stack):
        return ScenarioResult("bulk", "", "skipped", {"reason": "skipped: no /batches"})
    batches = math.ceil(scale.bulk_items / scale.bulk_batch_items)
    if batches > scale.bulk_events:
        raise ValueError("bulk: more batches than events would repeat (user, event) pairs")
    events = [f"b{i:04d}" for i in range(scale.bulk_events)]
    users = [f"k{i:06d}" for i in range(scale.bulk_batch_items)]
    stack.seed_users(users)
    stack.seed_events(events, scale.bulk_capacity)
    calls: list[Call] = []
    sizes: list[int] = []
    for number in range(batches):
        size = min(scale.bulk_batch_items, scale.bulk_items - sum(sizes))
        # item k of batch b: user k at event (k + b) mod E, so no (user, event) pair repeats
        items = [
            {"type": "register", "userId": users[k], "eventId": events[(k + number) % len(events)]}
            for k in range(size)
        ]
        calls.append(json_call("POST", "/batches", {"items": items}))
        sizes.append(size)
    total = sum(sizes)
    offset = worker_log_offset(stack)
    with QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        results = run_closed(
            bench.target("batch"),
            calls,
            scale.bulk_clients,
            1,  # a handful of large requests: one process sends them as fast as many would
            scale.scenario_time_limit,
        )
        problems = settle(bench)
    accepted_items = sum(
        size for size, status in zip(sizes, results.status, strict=True) if status == 202
    )
    request_seconds = [a - s for a, s in zip(results.answered, results.sent, strict=True)]
    applied = applied_figures(bench)
    figures = {
        "items": total,
        "batches": batches,
        "acceptedItems": accepted_items,
        "acceptedItemsPerS": per_second(accepted_items, results.span()),
        "batchRequestP50Ms": ms(percentile(request_seconds, 0.5)),
        "appliedItems": applied["applied"],
        "appliedItemsPerS": applied["appliedPerS"],
        "ticketLatencyP50Ms": applied["ticketLatencyP50Ms"],
        "ticketLatencyP99Ms": applied["ticketLatencyP99Ms"],
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(total),
    }
    problems += common_checks(bench, None, None, total)
    problems += verify.register_only_outcomes(stack.conn)
    if results.count_status(202) != batches:
        problems.append(f"{batches - results.count_status(202)} batches refused: {results.errors}")
    for batch_id in results.ids:
        if batch_id is None:
            continue
        summary = requests.get(
            f"{stack.base_url}/batches/{batch_id}",
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            timeout=10,
        ).json()
        if summary.get("completed") != summary.get("total") or summary.get("pending"):
            problems.append(f"batch {batch_id} reports {summary}")
    return ScenarioResult("bulk", "", "ok", figures, problems)


def moderate(bench: Bench) -> ScenarioResult:
    """4. Open-loop arrivals at half the hot accepted rate of this run, over 100 events;
    latency from the 202 to the ticket's completion, seen by the client's long-poll."""
    stack = bench.stack
    scale = bench.scale
    stack.wipe()
    hot_accepted = bench.figure("hot", "acceptedPerS")
    rate = round(0.5 * hot_accepted, 1) if hot_accepted else scale.moderate_default_rate
    count = max(1, int(rate * scale.moderate_seconds))
    events = [f"m{i:04d}" for i in range(scale.moderate_events)]
    users = [f"m{i:06d}" for i in range(count)]
    stack.seed_users(users)
    # Capacity for about half of each event's arrivals: seats and waitlist both in play.
    stack.seed_events(events, max(1, count // len(events) // 2))
    event_of = [events[i % len(events)] for i in range(count)]
    calls = [
        json_call("POST", f"/events/{event_of[i]}/registrations", {"userId": users[i]})
        for i in range(count)
    ]
    offsets = poisson_offsets(count, rate)
    # Enough threads that arrivals never wait for a free one even if each takes 3 s (POST plus
    # long-poll): an open loop that queues its own arrivals would hide latency. Sends that
    # still start late are counted (`sendsLateOver10Ms`): the system was overloaded.
    threads = min(256, max(scale.moderate_threads, math.ceil(rate * 3.0)))
    offset = worker_log_offset(stack)
    with profiled(bench, "moderate") as profile, QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        results = run_open(
            bench.target(), calls, offsets=offsets, threads=threads, processes=bench.load_processes
        )
        problems = settle(bench)
    latency = [d - a for d, a in zip(results.done, results.answered, strict=True)]
    post = [a - s for a, s in zip(results.answered, results.sent, strict=True)]
    late = [s - d for s, d in zip(results.sent, results.scheduled, strict=True)]
    last_due = max(offsets) if offsets else math.nan
    figures = {
        "targetRatePerS": rate,
        "rateSource": "0.5 x hot accepted/s of this run" if hot_accepted else "default",
        "commands": count,
        "offeredPerS": per_second(count, last_due),
        "latencyP50Ms": ms(percentile(latency, 0.5)),
        "latencyP99Ms": ms(percentile(latency, 0.99)),
        "latencyP999Ms": ms(percentile(latency, 0.999)),
        "postP50Ms": ms(percentile(post, 0.5)),
        "postP99Ms": ms(percentile(post, 0.99)),
        # An open-loop generator that falls behind its schedule hides latency: say so.
        "sendsLateOver10Ms": sum(1 for x in late if not math.isnan(x) and x > 0.010),
        **{k: v for k, v in applied_figures(bench).items() if k.startswith("ticketLatency")},
        "threads": threads,
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    not_done = sum(1 for o in results.outcome if o != "completed")
    if not_done:
        problems.append(f"{not_done} long-polls did not see their ticket completed")
    problems += common_checks(bench, results, event_of, count)
    problems += verify.register_only_outcomes(stack.conn)
    result = ScenarioResult("moderate", "", "ok", figures, problems)
    if profile is not None:
        result.profiles = profile.profiles
    return result


def soak(bench: Bench) -> ScenarioResult:
    """5. Many commands: registers and unregisters of the same (user, event) pairs in rounds;
    RSS of the API and worker groups at the start and at every checkpoint.

    Most commands go through POST /batches (1,000 items each) so that 200,000 of them fit the
    run's time budget on a small machine; a share of every checkpoint goes as single commands,
    so the API's single-command path soaks too. Without /batches, all go singly."""
    stack = bench.stack
    scale = bench.scale
    stack.wipe()
    events = [f"k{i:05d}" for i in range(scale.soak_events)]
    # Users are reused across events. Pairs repeat every `pairs` commands, registering on even
    # rounds and unregistering on odd ones (so every unregister of a seated user with people
    # waiting promotes one). A round is one checkpoint: no command depends on another of its
    # own round, only on the previous round, accepted and applied before it starts.
    users = [f"q{i:04d}" for i in range(max(1, scale.soak_checkpoint // len(events)))]
    pairs = len(users) * len(events)
    stack.seed_users(users)
    stack.seed_events(events, scale.soak_capacity)
    has_batches = _has_batches(stack)

    def command(index: int) -> tuple[str, str, str]:
        pair = index % pairs
        kind = "register" if (index // pairs) % 2 == 0 else "unregister"
        return kind, users[pair // len(events)], events[pair % len(events)]

    rss: list[Figures] = [_rss_sample(stack, 0)]
    problems: list[str] = []
    sent = 0
    started = time.monotonic()
    offset = worker_log_offset(stack)
    with QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        while sent < scale.soak_commands and not problems:
            size = min(pairs, scale.soak_commands - sent)
            planned = [command(i) for i in range(sent, sent + size)]
            singles = planned if not has_batches else planned[: int(size * scale.soak_single_share)]
            results = bench.closed([_single_call(*c) for c in singles])
            rest = planned[len(singles) :]
            if rest:
                calls = [
                    json_call("POST", "/batches", {"items": [
                        {"type": kind, "userId": user, "eventId": event}
                        for kind, user, event in rest[first : first + scale.soak_batch_items]
                    ]})
                    for first in range(0, len(rest), scale.soak_batch_items)
                ]  # fmt: skip
                batches = run_closed(bench.target("batch"), calls, 2, 1, scale.scenario_time_limit)
                if batches.count_status(202) != len(calls):
                    problems.append(f"soak: batches refused: {batches.errors[:3]}")
            problems += settle(bench)
            problems += verify.tickets_settled(stack.conn, results, None)
            problems += verify.acceptance_order(stack.conn, results, [e for _, _, e in singles])
            sent += size
            rss.append(_rss_sample(stack, sent))
            bench.say(
                f"  soak: {sent:,} commands, worker RSS {rss[-1]['workerMiB']} MiB,"
                f" API RSS {rss[-1]['apiMiB']} MiB"
            )
    elapsed = time.monotonic() - started
    problems += common_checks(bench, None, None, sent)
    problems += _soak_outcomes(bench, users, events, pairs, sent)
    # Growth is measured from the first checkpoint: the start is before any pool, cache or
    # connection was warm, and the brief's question is whether memory keeps growing after.
    base = rss[1] if len(rss) > 2 else rss[0]
    figures = {
        "commands": sent,
        "via": "singles + POST /batches" if has_batches else "singles",
        "commandsPerS": per_second(sent, elapsed),
        "elapsedS": round(elapsed, 1),
        **{k: v for k, v in applied_figures(bench).items() if k.startswith("ticketLatency")},
        "rss": rss,
        "workerRssGrowthPct": _growth(base["workerMiB"], rss[-1]["workerMiB"]),
        "apiRssGrowthPct": _growth(base["apiMiB"], rss[-1]["apiMiB"]),
        "growthFrom": base["commands"],
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(sent),
    }
    return ScenarioResult("soak", "", "ok", figures, problems)


def _single_call(kind: str, user: str, event: str) -> Call:
    if kind == "register":
        return json_call("POST", f"/events/{event}/registrations", {"userId": user})
    return Call("DELETE", f"/events/{event}/registrations/{user}")


def _has_batches(stack: BenchStack) -> bool:
    """Whether POST /batches exists (it is being written): an empty body is refused with 422
    by the endpoint, and with 404 by an app without it."""
    probe = requests.post(
        stack.base_url + "/batches",
        json={},
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=10,
    )
    return probe.status_code != 404


def _growth(before: float, after: float) -> float | None:
    return round(100.0 * (after - before) / before, 1) if before else None


def _rss_sample(stack: BenchStack, commands: int) -> Figures:
    mib = 1024 * 1024
    return {
        "commands": commands,
        "workerMiB": round(stack.group_rss("worker") / mib, 1),
        "apiMiB": round(stack.group_rss("api") / mib, 1),
    }


def _soak_outcomes(
    bench: Bench, users: list[str], events: list[str], pairs: int, sent: int
) -> list[str]:
    """Registers were seated or waitlisted, unregisters found their user, and what is left
    is exactly the pairs whose last command was a register."""
    conn = bench.stack.conn
    problems: list[str] = []
    kinds = conn.execute(
        "SELECT type, result->>'status', count(*) FROM tickets GROUP BY 1, 2"
    ).fetchall()
    for kind, status, count in kinds:
        allowed = {"registered", "waitlisted"} if kind == "register" else {"unregistered"}
        if status not in allowed:
            problems.append(f"{count} {kind} tickets ended {status}")
    expected = set()
    for pair in range(min(pairs, sent)):
        last = pair + ((sent - 1 - pair) // pairs) * pairs
        if (last // pairs) % 2 == 0:
            expected.add((events[pair % len(events)], users[pair // len(events)]))
    held = {(e, u) for e, u in conn.execute("SELECT event_id, user_id FROM registrations")}
    if held != expected:
        problems.append(
            f"registrations differ from the commands: {len(held - expected)} unexpected, "
            f"{len(expected - held)} missing"
        )
    return problems


def naive(bench: Bench) -> ScenarioResult:
    """Reference: the hot event with TESSERA_APPLY_BATCH_SIZE=1 (one ticket per transaction),
    and a backlog drained at that size (see `drain`), under one worker restart."""
    bench.stack.restart_workers(1)
    try:
        result = _hot_event(
            bench,
            "naive",
            bench.scale.naive_registers,
            max(1, bench.scale.naive_registers // 10),
        )
        if not result.problems:
            drained = _drain_once(bench, bench.scale.naive_drain_tickets, result.problems)
            result.figures.update({f"drain{k[0].upper()}{k[1:]}": v for k, v in drained.items()})
        return result
    finally:
        bench.stack.restart_workers(None)


def drain(bench: Bench) -> ScenarioResult:
    """Reference: how fast the workers apply a backlog that is already there (tickets accepted
    with the API's own COPY, then one wake-up). This isolates the applier from the HTTP side."""
    problems: list[str] = []
    with profiled(bench, "drain") as profile:
        figures = _drain_once(bench, bench.scale.drain_tickets, problems)
    result = ScenarioResult("drain", "", "ok", figures, problems)
    if profile is not None:
        result.profiles = profile.profiles
    return result


def _drain_once(bench: Bench, count: int, problems: list[str]) -> Figures:
    from models.storage.tickets import NewTicket, insert_tickets
    from tessera.messaging import Waker

    stack = bench.stack
    stack.wipe()
    users = [f"d{i:06d}" for i in range(count)]
    stack.seed_users(users)
    stack.seed_events(["backlog"], max(1, count // 10))
    with stack.sessions.begin() as session:
        insert_tickets(session, [NewTicket("register", u, "backlog") for u in users], owner="bench")
    offset = worker_log_offset(stack)
    woken = dt.datetime.now(dt.UTC)
    with CpuMeter(stack) as cpu:
        Waker(stack.redis, _celery_sender(stack.urls.redis_url)).wake(["backlog"])
        problems.extend(settle(bench))
    row = stack.conn.execute(
        "SELECT count(*), max(completed_at) FROM tickets WHERE status = 'completed'"
    ).fetchone()
    assert row is not None
    applied, last = int(row[0]), row[1]
    span = (last - woken).total_seconds() if last else math.nan
    problems.extend(f"backlog: {p}" for p in common_checks(bench, None, None, count))
    problems.extend(f"backlog: {p}" for p in verify.register_only_outcomes(stack.conn))
    batches = worker_batches(stack, offset)
    return {
        "tickets": count,
        "appliedPerS": per_second(applied, span),
        "applyBatches": batches["applyBatches"],
        "meanBatch": batches["meanBatch"],
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }


def _celery_sender(redis_url: str) -> Any:
    """A Celery app that only sends tasks by name, as the API's is."""
    from celery import Celery

    sender = Celery("tessera-bench")
    sender.config_from_object("celeryconfig")
    sender.conf.broker_url = redis_url
    return sender


# --- reference points -------------------------------------------------------------------


def db_limit(bench: Bench) -> ScenarioResult:
    """Reference: the minimal writes of N applied commands in one transaction, with a raw
    psycopg loop: COPY N registration rows and UPDATE N ticket rows (the worker's statement),
    in scratch copies of the real tables (same columns, indexes and constraints; no foreign
    keys, so the limit is if anything optimistic)."""
    conn = bench.stack.conn
    scale = bench.scale
    count = scale.db_limit_rows
    result_json = json.dumps(
        {"status": "registered", "code": None, "message": "registered", "position": None,
         "promotedUserId": None}
    )  # fmt: skip
    conn.execute("DROP SCHEMA IF EXISTS bench_scratch CASCADE")
    conn.execute("CREATE SCHEMA bench_scratch")
    conn.execute("CREATE TABLE bench_scratch.registrations (LIKE registrations INCLUDING ALL)")
    conn.execute("CREATE TABLE bench_scratch.tickets (LIKE tickets INCLUDING ALL)")
    try:
        with CpuMeter(bench.stack) as cpu:
            whole = [
                _db_round(bench, count, count, result_json) for _ in range(scale.db_limit_rounds)
            ]
            chunked = _db_round(bench, count, 500, result_json)
    finally:
        conn.execute("DROP SCHEMA IF EXISTS bench_scratch CASCADE")
    best = statistics.median(whole)
    return ScenarioResult(
        "db-limit",
        "",
        "ok",
        {
            "rows": count,
            "rowsPerS": round(best, 1),
            "rounds": [round(r, 1) for r in whole],
            "rowsPerSIn500RowTransactions": round(chunked, 1),
            # per row written (the COPY of each round's tickets included)
            "cpuMsPerCommand": cpu.per_command_ms(count * (scale.db_limit_rounds + 1)),
        },
    )


def _db_round(bench: Bench, count: int, per_transaction: int, result_json: str) -> float:
    conn = bench.stack.conn
    conn.execute("TRUNCATE bench_scratch.registrations, bench_scratch.tickets RESTART IDENTITY")
    now = dt.datetime.now(dt.UTC)
    ids = [f"T{i:025d}" for i in range(count)]
    with (
        conn.cursor() as cursor,
        cursor.copy(
            "COPY bench_scratch.tickets (ticket_id, type, user_id, event_id, owner, status,"
            " created_at) FROM STDIN"
        ) as copy,
    ):
        for i, ticket_id in enumerate(ids):
            copy.write_row((ticket_id, "register", f"u{i:06d}", "limit", "bench", "pending", now))
    conn.execute("VACUUM ANALYZE bench_scratch.tickets")
    started = time.perf_counter()
    for first in range(0, count, per_transaction):
        chunk = range(first, min(count, first + per_transaction))
        with conn.transaction(), conn.cursor() as cursor:
            with cursor.copy(
                "COPY bench_scratch.registrations (event_id, user_id, standing, place_order,"
                " since) FROM STDIN"
            ) as copy:
                for i in chunk:
                    copy.write_row(("limit", f"u{i:06d}", "registered", i + 1, now))
            cursor.execute(
                """
                UPDATE bench_scratch.tickets AS t
                   SET status = v.status, result = CAST(v.result AS jsonb), completed_at = %s
                  FROM unnest(%s::text[], %s::text[], %s::text[]) AS v(ticket_id, status, result)
                 WHERE t.ticket_id = v.ticket_id AND t.status = 'pending'
                """,
                (
                    now,
                    [ids[i] for i in chunk],
                    ["completed"] * len(chunk),
                    [result_json] * len(chunk),
                ),
            )
            if cursor.rowcount != len(chunk):
                raise RuntimeError(f"db limit: {cursor.rowcount} of {len(chunk)} rows updated")
    return count / (time.perf_counter() - started)


def http_limit(bench: Bench) -> ScenarioResult:
    """Reference: a no-op Flask endpoint answering 202, under the API's gunicorn settings,
    driven by the same load generator with the same requests."""
    stack = bench.stack
    port = free_port()
    argv = api_argv("127.0.0.1", port)
    if argv[-1] != "api.wsgi:create()":
        raise RuntimeError(f"unexpected gunicorn argv shape: {argv}")
    argv[-1] = "benchmarks.noop_app:create()"  # everything else (config, bind) as the API's
    stack.local.spawn("noop", argv)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/live", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the no-op app did not start")
            time.sleep(0.1)
        count = bench.scale.http_limit_requests
        calls = [
            json_call("POST", "/events/hot/registrations", {"userId": f"n{i:06d}"})
            for i in range(count)
        ]
        with CpuMeter(stack) as cpu:
            results = run_closed(
                Target(base, stack.admin_key, "ticket"),
                calls,
                bench.scale.clients,
                bench.load_processes,
                bench.scale.scenario_time_limit,
            )
    finally:
        stack.local.stop("noop")
    problems = []
    if results.count_status(202) != count:
        problems.append(f"{count - results.count_status(202)} no-op requests failed")
    figures = {
        "requests": count,
        "requestsPerS": per_second(results.count_status(202), results.span()),
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    return ScenarioResult("http-limit", "", "ok", figures, problems)


def warm_up(bench: Bench) -> None:
    """Open every API thread's database connections and import every lazy module before the
    first measurement, then leave an empty database behind."""
    stack = bench.stack
    count = bench.scale.clients * 8
    users = [f"w{i:05d}" for i in range(count)]
    stack.wipe()
    stack.seed_users(users)
    stack.seed_events(["warm"], max(1, count // 2))
    bench.closed([json_call("POST", "/events/warm/registrations", {"userId": u}) for u in users])
    stack.wait_applied(bench.scale.apply_timeout)
    stack.wipe()


# --- running ----------------------------------------------------------------------------

Scenario = Callable[[Bench], ScenarioResult]

# In run order: the reference points first (the moderate-load rate is derived from the hot
# result; few-clients and sequential run their in-memory reference themselves), the one that
# restarts the workers (naive) late, and the soak last so its memory figures cover one worker
# lifetime.
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "http-limit": ("Limit (HTTP): no-op endpoint, same gunicorn + load generator", http_limit),
    "memory-hot": (
        "Reference (memory): the hot event's requests, in-memory Flask app, same gunicorn",
        loops.memory_hot,
    ),
    "db-limit": ("Limit (database): raw COPY + UPDATE of N applied commands", db_limit),
    "hot": ("1. Hot event", hot),
    "hot-fill": ("1b. Hot event, parties of 1-4 seats under fill", hot_fill),
    "hot-no-ledger": ("1c. Hot event on an event without a ledger (its cost)", hot_no_ledger),
    "approval-storm": (
        "1d. Approval storm: applications, then approvals in random order by 8 admin clients",
        approval.approval_storm,
    ),
    "spread": ("2. Spread over many events", spread),
    "bulk": ("3. Bulk via POST /batches", bulk),
    "moderate": ("4. Latency under moderate load (open loop)", moderate),
    "few-clients": (
        "8. Few clients: next command at the 202 (Tessera, then in-memory app)",
        loops.few_clients,
    ),
    "sequential": (
        "9. Sequential: each ticket long-polled done first (Tessera, then in-memory app)",
        loops.sequential,
    ),
    "waiters": (
        "6. Waiters: long-polls and SSE streams held open beside the hot load",
        waiting.waiters,
    ),
    "onsale": ("7. On-sale draw: a pre-queue drawn at the opening", onsale.onsale),
    "drain": ("Backlog drain: the applier alone, no HTTP in the way", drain),
    "naive": ("Naive: TESSERA_APPLY_BATCH_SIZE=1 (hot event, then backlog)", naive),
    "soak": ("5. Soak / memory", soak),
}


def run_scenario(bench: Bench, name: str) -> ScenarioResult:
    title, function = SCENARIOS[name]
    bench.say(f"== {title}")
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        result = function(bench)
        if result.status == "ok" and result.problems:
            result.status = "failed"
    except Exception as error:
        result = ScenarioResult(
            name, title, "error", problems=[f"{error!r}", *traceback.format_exc().splitlines()[-6:]]
        )
    result.title = title
    result.seconds = round(time.monotonic() - started, 1)
    # The machine may be shared: the 1-minute load average before and after says how much.
    result.figures["loadAverage"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    bench.results[name] = result
    bench.say(f"   {result.status} in {result.seconds:.1f} s: {_brief(result.figures)}")
    for problem in result.problems[:10]:
        bench.say(f"   ! {problem}")
    return result


def _brief(figures: Figures) -> str:
    return ", ".join(f"{k}={v}" for k, v in figures.items() if not isinstance(v, list | dict))
