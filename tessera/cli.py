"""The `tessera` command: the whole stack (`up`) or its parts against real or embedded servers.

Every subcommand finds its servers the same way: DATABASE_URL / REDIS_URL if set, else the
embedded servers of --data-dir, joining them if they already run (e.g. under `tessera up`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import click

from tessera.config import DEFAULT_DATA_DIR, Settings
from tessera.servers import ServerUrls, servers

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    envvar="TESSERA_DATA_DIR",
    show_default=True,
    help="Where the embedded PostgreSQL and Redis keep their data.",
)


@click.group()
def main() -> None:
    """Tessera: event registration with capacity and waitlists."""


@contextlib.contextmanager
def resolved(data_dir: Path) -> Iterator[ServerUrls]:
    settings = Settings.from_env()
    with servers(data_dir, settings.database_url, settings.redis_url) as urls:
        yield urls


def child_env(urls: ServerUrls, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=urls.database_url, REDIS_URL=urls.redis_url, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def run_foreground(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run a child until it ends, passing on SIGINT/SIGTERM (so `with servers()` can stop what
    it started once the child is gone)."""
    process = subprocess.Popen(list(argv), env=dict(env))

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return process.wait()


def api_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:api.gunicorn_conf",
        "--bind", f"{host}:{port}",
        "api.wsgi:create()",
    ]  # fmt: skip


def worker_argv(concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker",
        "--loglevel", "INFO",
        "--concurrency", str(concurrency),
        "--queues", "tessera",
        # unique per process, so several workers on one machine stay apart in Flower
        "--hostname", f"tessera-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip


def beat_argv(data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "beat",
        "--loglevel", "INFO",
        "--schedule", str(data_dir / "celerybeat-schedule"),
    ]  # fmt: skip


def flower_argv(port: int, basic_auth: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "flower",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--basic-auth={basic_auth}",
    ]  # fmt: skip


@main.command()
@data_dir_option
def migrate(data_dir: Path) -> None:
    """Bring the database schema up to date."""
    from models.db import migrate as run_migrations

    with resolved(data_dir) as urls:
        run_migrations(urls.database_url)
    click.echo("schema up to date")


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def api(data_dir: Path, host: str, port: int) -> None:
    """Serve the HTTP API with gunicorn."""
    with resolved(data_dir) as urls:
        sys.exit(run_foreground(api_argv(host, port), child_env(urls)))


@main.command()
@data_dir_option
@click.option("--concurrency", type=int, default=None, help="Worker processes [2].")
def worker(data_dir: Path, concurrency: int | None) -> None:
    """Run a Celery worker that applies tickets."""
    processes = concurrency or Settings.from_env().worker_processes
    with resolved(data_dir) as urls:
        sys.exit(run_foreground(worker_argv(processes), child_env(urls)))


@main.command()
@data_dir_option
def beat(data_dir: Path) -> None:
    """Run celery beat (the sweeper's clock)."""
    with resolved(data_dir) as urls:
        sys.exit(run_foreground(beat_argv(data_dir), child_env(urls)))


@main.command()
@data_dir_option
@click.option("--port", type=int, default=None, help="Port [TESSERA_FLOWER_PORT or 5555].")
def flower(data_dir: Path, port: int | None) -> None:
    """Run Flower, the Celery monitor, with basic auth."""
    settings = Settings.from_env()
    auth = settings.flower_auth or _stored_secret(data_dir, "flower-auth", "admin:")
    with resolved(data_dir) as urls:
        argv = flower_argv(port or settings.flower_port, auth)
        sys.exit(run_foreground(argv, child_env(urls)))


def _stored_secret(data_dir: Path, name: str, prefix: str) -> str:
    """A secret generated on first use and kept (mode 600) in the data directory."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = prefix + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except OSError:
        return False


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def up(data_dir: Path, host: str, port: int) -> None:
    """Run the whole stack in the foreground: servers, migrations, API, worker, beat, Flower."""
    from models.db import migrate as run_migrations
    from tessera.supervisor import Supervisor

    settings = Settings.from_env()
    supervisor = Supervisor()

    def stop(_signum: int, _frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    extra: dict[str, str] = {}
    admin_key: str | None = None
    if settings.auth_enabled and not settings.api_keys:
        admin_key = _stored_secret(data_dir, "admin-key", "tsk_")
        extra["TESSERA_API_KEYS"] = f"{admin_key}:admin"
    with resolved(data_dir) as urls:
        supervisor.say("tessera", f"PostgreSQL {urls.database_url}")
        supervisor.say("tessera", f"Redis {urls.redis_url}")
        run_migrations(urls.database_url)
        supervisor.say("tessera", "migrations applied")
        env = child_env(urls, extra)
        supervisor.add("api", api_argv(host, port), env)
        supervisor.add("worker", worker_argv(settings.worker_processes), env)
        supervisor.add("beat", beat_argv(data_dir), env)
        if settings.flower_port:
            flower_auth = settings.flower_auth or _stored_secret(data_dir, "flower-auth", "admin:")
            supervisor.add("flower", flower_argv(settings.flower_port, flower_auth), env)
            supervisor.say(
                "tessera",
                f"Flower http://127.0.0.1:{settings.flower_port} (user {flower_auth.split(':')[0]},"
                f" password in {data_dir / 'flower-auth'} or TESSERA_FLOWER_AUTH)",
            )
        if admin_key:
            supervisor.say(
                "tessera", f"admin API key: {admin_key} (kept in {data_dir / 'admin-key'})"
            )

        base = f"http://{host}:{port}"
        announced = False

        def announce_when_ready() -> None:
            nonlocal announced
            if not announced and _ready(base + "/ready"):
                announced = True
                click.echo(f"Tessera ready: {base}", nl=True)
                sys.stdout.flush()

        try:
            supervisor.watch(on_tick=announce_when_ready)
        finally:
            started = time.monotonic()
            supervisor.stop()
            supervisor.say("tessera", f"stopped in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
