"""The workers' counters in Redis and the histograms /metrics makes of them: each value adds
to the one bucket it falls in, a batch's counters go in one command, and reading sums the
buckets into Prometheus's cumulative ones."""

from __future__ import annotations

import redis

from tessera.telemetry import (
    BATCH_SIZE_BUCKETS,
    BATCH_SIZE_FIELD,
    METRICS_KEY,
    SETTLE_BUCKETS,
    SETTLE_FIELD,
    count_batch,
    cumulative_buckets,
    read_worker_metrics,
)


def _count(client: redis.Redis, statuses: list[str], settle: list[float]) -> int:
    """Count one batch; the number of commands it took."""
    pipe = client.pipeline(transaction=False)
    count_batch(pipe, statuses, settle)
    commands = len(pipe)
    pipe.execute()
    return commands


def test_a_batch_adds_to_one_bucket_of_each_histogram(redis_client: redis.Redis) -> None:
    # one command for every counter of a batch, whatever its size
    assert _count(redis_client, ["registered"], [0.003]) == 1
    assert _count(redis_client, ["registered"] * 7 + ["waitlisted"] * 3, [0.02] * 10) == 1
    assert _count(redis_client, ["denied"] * 2000, [90.0] * 2000) == 1

    counters = read_worker_metrics(redis_client)
    assert counters["applied:registered"] == 8
    assert counters["batch_count"] == 3
    assert counters["batch_sum"] == 2011
    batches = cumulative_buckets(counters, BATCH_SIZE_FIELD, BATCH_SIZE_BUCKETS, 3)
    assert batches == [
        ("1", 1),
        ("5", 1),
        ("10", 2),
        ("25", 2),
        ("50", 2),
        ("100", 2),
        ("250", 2),
        ("500", 2),
        ("1000", 2),
        ("+Inf", 3),
    ]
    settle = dict(cumulative_buckets(counters, SETTLE_FIELD, SETTLE_BUCKETS, 2011))
    assert settle["0.005"] == 1
    assert settle["0.01"] == 1
    assert settle["0.025"] == 11
    assert settle["60.0"] == 11  # the 90 s ones are only in +Inf
    assert settle["+Inf"] == 2011
    assert counters["settle_sum_ms"] == 3 + 200 + 180_000_000
    assert redis_client.exists(METRICS_KEY)
