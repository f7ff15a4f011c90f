"""The embedded servers as `tessera up` uses them: a relative data dir, joined by a second
process, stopped cleanly."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis, _postgres_bin, servers

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


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """Outside pytest's tmp root: other pytest sessions on the machine chmod that to 700,
    which would clear the ACL letting PostgreSQL's user through it in the middle of a test."""
    path = Path(tempfile.mkdtemp(prefix="tessera-secrets-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_both_servers_ask_for_the_password_kept_mode_600_in_the_data_dir(own_dir: Path) -> None:
    data_dir = own_dir / "data"
    with servers(data_dir, durable=False) as urls:
        for name in ("postgres-password", "redis-password"):
            assert (data_dir / name).stat().st_mode & 0o777 == 0o600
        postgres_password = (data_dir / "postgres-password").read_text().strip()
        redis_password = (data_dir / "redis-password").read_text().strip()
        assert f":{postgres_password}@" in urls.database_url
        assert f":{redis_password}@" in urls.redis_url

        without = urls.database_url.replace(f":{postgres_password}@", "@")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without, connect_timeout=5).close()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without.replace("@", ":wrong@", 1), connect_timeout=5).close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(urls.redis_url.replace(f":{redis_password}@", "")).ping()
        assert redis.Redis.from_url(urls.redis_url).ping()

        redis_pid = EmbeddedRedis(data_dir).pid()
        assert redis_pid is not None
        assert not any(redis_password in arg for arg in psutil.Process(redis_pid).cmdline())


def _modes(paths: list[Path]) -> dict[Path, int]:
    return {path: path.stat().st_mode for path in paths}


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")
def test_starting_as_root_widens_no_parent_directory(own_dir: Path) -> None:
    private = own_dir / "home"  # like /root: 700
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    data_dir = private / "project" / ".tessera"
    bin_dir = Path(_postgres_bin("postgres")).parent
    venv_parents = list(bin_dir.parents)
    before = _modes(venv_parents)

    with servers(data_dir, durable=False):
        assert _modes(venv_parents) == before
        assert private.stat().st_mode & 0o007 == 0  # nothing for other users ...
        nobody = subprocess.run(
            ["ls", str(private)], user="nobody", capture_output=True, check=False
        )
        assert nobody.returncode != 0  # ... who still cannot list it
        traverse = subprocess.run(["test", "-x", str(private)], user="nobody", check=False)
        assert traverse.returncode != 0  # nor pass through it
