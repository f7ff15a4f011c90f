"""The embedded servers as `tessera up` uses them: a relative data dir, joined by a second
process, stopped cleanly."""

from __future__ import annotations

from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis, servers

pytestmark = pytest.mark.integration


def test_a_relative_data_dir_starts_both_servers_and_a_second_caller_joins_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data_dir = Path(".tessera")  # the default, relative to where `make run` is typed

    with servers(data_dir, durable=False) as first:
        with servers(data_dir, durable=False) as second:
            assert second == first  # joined, not started again
        with psycopg.connect(first.database_url) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        assert redis.Redis.from_url(first.redis_url).ping()
        postgres_pid = EmbeddedPostgres(data_dir).postmaster_pid()
        redis_pid = EmbeddedRedis(data_dir).pid()

    assert postgres_pid is not None
    assert redis_pid is not None
    assert EmbeddedPostgres(data_dir).running_port() is None
    assert EmbeddedRedis(data_dir).running_port() is None
    assert not any(alive(pid) for pid in (postgres_pid, redis_pid))


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a parent (in a container, PID 1 may never
    reap the daemonised postmaster)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
