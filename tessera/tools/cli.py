"""The `tessera` command: the whole stack (`up`) or its parts against real or embedded servers.

Every subcommand finds its servers the same way: DATABASE_URL / REDIS_URL if set, else the
embedded servers of --data-dir, joining them if they already run (e.g. under `tessera up`).
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tessera import extras
from tessera.config import DEFAULT_DATA_DIR, ConfigError, Environment, Settings, redact_url
from tessera.tools import key_commands, ledger_commands
from tessera.tools.processes import (
    api_argv,
    beat_argv,
    child_env,
    flower_argv,
    flower_env,
    metrics_env,
    webhook_worker_argv,
    worker_argv,
)
from tessera.tools.servers import ServerUrls, servers
from tessera.tools.stored_key import record_api_url, recorded_api_url, stored_key_for

if TYPE_CHECKING:
    from tessera.tools.supervisor import Supervisor

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


@main.command("config")
def config_() -> None:
    """Print the effective settings as NAME=value lines, secrets redacted."""
    try:
        environment = Environment.load()
        environment.settings()  # the checks every process makes at start
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    for name, value, meaning in environment.shown():
        click.echo(f"{name}={value}  # {meaning}")


@main.command()
@data_dir_option
@click.argument("process", type=click.Choice(["worker", "webhook-worker", "beat"]))
def healthcheck(data_dir: Path, process: str) -> None:
    """Exit 0 if this container's PROCESS is healthy (docker-compose.yml's healthchecks)."""
    from tessera.tools import healthcheck as checks

    if process == "beat":
        problem = checks.check_beat(data_dir / "celerybeat-schedule")
    else:
        problem = checks.check_worker(process)
    if problem is not None:
        raise click.ClickException(problem)
    click.echo(f"{process}: healthy")


@contextlib.contextmanager
def resolved(data_dir: Path) -> Iterator[ServerUrls]:
    settings = Settings.from_env()
    with servers(data_dir, settings.database_url, settings.redis_url) as urls:
        yield urls


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


@main.command()
@data_dir_option
def migrate(data_dir: Path) -> None:
    """Bring the database schema up to date."""
    from models.storage.db import migrate as run_migrations

    with resolved(data_dir) as urls:
        run_migrations(urls.database_url)
    click.echo("schema up to date")


def webhook_key_env(data_dir: Path) -> dict[str, str]:
    """TESSERA_WEBHOOK_KEY for the children: the configured one, else the one older releases
    generated into the data dir, so the secrets it sealed stay readable. New data dirs have
    none: the server secret's sealing key serves (tessera/server_secret.py)."""
    stored = data_dir / "webhook-key"
    if Settings.from_env().webhook_keys or not stored.exists():
        return {}
    return {"TESSERA_WEBHOOK_KEY": stored.read_text().strip()}


def secret_env(data_dir: Path) -> dict[str, str]:
    """TESSERA_SECRET_KEY for the children: the configured one, else one generated on first use
    and kept (mode 600) in the data dir, so `tessera up` and the parts started beside it with
    the same --data-dir share it. Parts on other machines must be given the same secret."""
    if Settings.from_env().secret_key:
        return {}
    return {"TESSERA_SECRET_KEY": _stored_secret(data_dir, "secret-key", "tss_")}


def secrets_env(data_dir: Path) -> dict[str, str]:
    return {**secret_env(data_dir), **webhook_key_env(data_dir)}


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def api(data_dir: Path, host: str, port: int) -> None:
    """Serve the HTTP API with gunicorn."""
    with resolved(data_dir) as urls:
        env = child_env(urls, {**metrics_env(data_dir), **secrets_env(data_dir)})
        record_api_url(data_dir, f"http://{host}:{port}")
        sys.exit(run_foreground(api_argv(host, port), env))


@main.command()
@data_dir_option
@click.option("--concurrency", type=int, default=None, help="Worker processes [2].")
def worker(data_dir: Path, concurrency: int | None) -> None:
    """Run a Celery worker that applies tickets."""
    from tessera.tools.restarting import Restarter

    processes = concurrency or Settings.from_env().worker_processes
    with resolved(data_dir) as urls:
        # restarts the Celery worker if it dies by itself, so a bare `tessera worker` heals
        restarter = Restarter(worker_argv(processes), child_env(urls), name="celery worker")
        sys.exit(restarter.run())


@main.command("webhook-worker")
@data_dir_option
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Sender threads [TESSERA_WEBHOOK_WORKERS or 8].",
)
def webhook_worker(data_dir: Path, concurrency: int | None) -> None:
    """Run a Celery worker that delivers webhooks (its own queue)."""
    from tessera.tools.restarting import Restarter

    threads = concurrency or Settings.from_env().webhook_concurrency
    with resolved(data_dir) as urls:
        env = child_env(urls, secrets_env(data_dir))
        restarter = Restarter(webhook_worker_argv(threads), env, name="celery webhook worker")
        sys.exit(restarter.run())


@main.command()
@data_dir_option
def beat(data_dir: Path) -> None:
    """Run celery beat (the sweeper's clock)."""
    with resolved(data_dir) as urls:
        sys.exit(run_foreground(beat_argv(data_dir), child_env(urls)))


@main.command()
@data_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 inside a container).",
)
@click.option("--port", type=int, default=None, help="Port [TESSERA_FLOWER_PORT or 5555].")
def flower(data_dir: Path, host: str, port: int | None) -> None:
    """Run Flower, the Celery monitor, with basic auth."""
    if not extras.installed("flower"):
        raise click.ClickException(extras.message("flower"))
    settings = Settings.from_env()
    auth = settings.flower_auth or _stored_secret(data_dir, "flower-auth", "admin:")
    with resolved(data_dir) as urls:
        argv = flower_argv(port or settings.flower_port, host)
        sys.exit(run_foreground(argv, child_env(urls, flower_env(auth))))


def _add_flower(
    supervisor: Supervisor, settings: Settings, data_dir: Path, env: Mapping[str, str]
) -> None:
    """Flower under `tessera up`, unless switched off (port 0) or not installed."""
    if not settings.flower_port:
        return
    if not extras.installed("flower"):
        supervisor.say("tessera", f"Flower not started: {extras.message('flower')}")
        return
    flower_auth = settings.flower_auth or _stored_secret(data_dir, "flower-auth", "admin:")
    supervisor.add("flower", flower_argv(settings.flower_port), {**env, **flower_env(flower_auth)})
    supervisor.say(
        "tessera",
        f"Flower http://127.0.0.1:{settings.flower_port} (user {flower_auth.split(':')[0]},"
        f" password in {data_dir / 'flower-auth'} or TESSERA_FLOWER_AUTH)",
    )


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
    """Run the whole stack in the foreground: servers, migrations, API, workers (tickets and
    webhooks), beat, Flower."""
    from models.storage.db import migrate as run_migrations
    from tessera.tools.supervisor import Supervisor

    settings = Settings.from_env()
    log_dir = data_dir / "logs"
    supervisor = Supervisor(log_dir=log_dir)

    def stop(_signum: int, _frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    extra: dict[str, str] = {}
    admin_key: str | None = None
    if settings.auth_enabled and not settings.api_keys:
        admin_key = _stored_secret(data_dir, "admin-key", "tsk_")
        extra["TESSERA_API_KEYS"] = f"{admin_key}:admin"
    extra.update(secrets_env(data_dir))
    with resolved(data_dir) as urls:
        supervisor.say("tessera", f"PostgreSQL {redact_url(urls.database_url)}")
        supervisor.say("tessera", f"Redis {redact_url(urls.redis_url)}")
        run_migrations(urls.database_url)
        supervisor.say(
            "tessera",
            f"migrations applied; full logs in {log_dir}/, here only warnings, errors and a"
            " summary every few seconds",
        )
        env = child_env(urls, extra)
        supervisor.add("api", api_argv(host, port), {**env, **metrics_env(data_dir)})
        supervisor.add("worker", worker_argv(settings.worker_processes), env)
        supervisor.add("webhooks", webhook_worker_argv(settings.webhook_concurrency), env)
        supervisor.add("beat", beat_argv(data_dir), env)
        _add_flower(supervisor, settings, data_dir, env)
        if admin_key:
            # the key itself is not printed: output ends up in logs and terminal scrollback
            supervisor.say("tessera", f"admin API key in {data_dir / 'admin-key'} (mode 600)")

        base = f"http://{host}:{port}"
        record_api_url(data_dir, base)
        announced = False

        def announce_when_ready() -> None:
            nonlocal announced
            if not announced and _ready(base + "/ready"):
                announced = True
                click.echo(f"Tessera ready: {base}", nl=True)
                click.echo(f"Operator console: {base}/console (sign in with an API key)")
                sys.stdout.flush()

        try:
            supervisor.watch(on_tick=announce_when_ready)
        finally:
            started = time.monotonic()
            supervisor.stop()
            supervisor.say("tessera", f"stopped in {time.monotonic() - started:.1f}s")


@main.command()
@data_dir_option
@click.option(
    "--max-pending-age",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Also report tickets pending for longer than this.",
)
def check(data_dir: Path, max_pending_age: float | None) -> None:
    """Check the contract's invariants over the whole database; exit 1 on any violation."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.exc import SQLAlchemyError

    from models.storage.db import make_engine, make_sessionmaker
    from models.storage.invariants import run_checks
    from models.storage.replication import durability

    console = Console(highlight=False, soft_wrap=True)
    with resolved(data_dir) as urls:
        engine = make_engine(urls.database_url, pool_size=1, max_overflow=0)
        # one read-only snapshot: every check sees the same database, even while it changes
        snapshot = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        try:
            with make_sessionmaker(snapshot).begin() as session:
                results = run_checks(session, max_pending_age=max_pending_age)
                guarantee = durability(session)
        except SQLAlchemyError as error:
            console.print(
                f"[red]cannot check the database:[/red] {error.__class__.__name__}: {error}"
            )
            sys.exit(2)
        finally:
            engine.dispose()

    table = Table(title="Invariants")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("violations", justify="right", no_wrap=True)
    table.add_column("what it means")
    for result in results:
        count = f"{len(result.violations)}{'+' if result.truncated else ''}"
        verdict = "[green]ok[/green]" if result.ok else "[red]VIOLATED[/red]"
        table.add_row(result.name, verdict, count, result.description)
    console.print(table)
    # said, not counted: a single server or asynchronous replication is the operator's choice,
    # but one that must be known before a failover loses acknowledged tickets
    colour = "green" if guarantee.guaranteed else "yellow"
    console.print(f"[{colour}]durability ({guarantee.mode}):[/{colour}] {guarantee.detail}")
    broken = [result for result in results if not result.ok]
    for result in broken:
        console.print(f"[bold]{result.name}[/bold]")
        for violation in result.violations:
            console.print(f"  {violation}")
        if result.truncated:
            console.print("  ... and more")
    if broken:
        console.print(f"[red]{len(broken)} of {len(results)} checks found violations[/red]")
        sys.exit(1)
    console.print(f"[green]all {len(results)} checks passed[/green]")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--url",
    default=None,
    help="The API's base URL [the one `tessera up` serves from --data-dir, else 127.0.0.1:8000].",
)
@click.option(
    "--key",
    envvar="TESSERA_API_KEY",
    default=None,
    help=(
        "API key [TESSERA_API_KEY; else, for the API `tessera up` serves from --data-dir,"
        " the admin key it keeps]"
    ),
)
@data_dir_option
@click.option("--dry-run", is_flag=True, help="Only validate the file; send nothing.")
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 10_000),
    default=10_000,
    show_default=True,
    help="Rows per batch. Keep it the same when re-running an interrupted import.",
)
@click.option(
    "--max-chunks",
    type=click.IntRange(min=1),
    default=None,
    help="Submit at most this many chunks; re-run without it to submit the rest.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to wait for the submitted commands to be applied.",
)
def import_(
    *,
    file: Path,
    url: str | None,
    key: str | None,
    data_dir: Path,
    dry_run: bool,
    chunk_size: int,
    max_chunks: int | None,
    wait_timeout: float,
) -> None:
    """Import a CSV of commands (columns type,userId,eventId) as batches through the API.

    Re-running an interrupted import resubmits nothing twice: the API replays the chunks it
    already accepted. Exit 1 if a row is bad (nothing is sent) or a command failed."""
    from rich.console import Console

    from tessera.tools import importer

    console = Console(highlight=False, soft_wrap=True)
    try:
        validation = importer.validate_file(file)
    except importer.ImportFailed as error:
        console.print(f"[red]{error}[/red]")
        sys.exit(1)
    if not validation.ok:
        for bad in validation.bad:
            console.print(f"line {bad.line}: {bad.message}")
        more = validation.bad_count - len(validation.bad)
        if more:
            console.print(f"... and {more} more")
        console.print(f"[red]{validation.bad_count} bad row(s) in {file}; nothing was sent[/red]")
        sys.exit(1)
    if dry_run:
        console.print(f"{file}: {validation.rows} rows, all valid (dry run: nothing sent)")
        return

    url = url or recorded_api_url(data_dir) or "http://127.0.0.1:8000"
    if key is None:  # the stored key only to the API of the data dir it belongs to
        key = stored_key_for(data_dir, url)
    client = importer.ApiClient(url, key)
    report = importer.Report(rows=validation.rows)
    try:
        importer.run(
            console,
            client,
            file,
            report,
            chunk_size=chunk_size,
            max_chunks=max_chunks,
            wait_timeout=wait_timeout,
        )
    except importer.ImportFailed as error:
        console.print(f"[red]import stopped: {error}[/red]")
        console.print("Re-run the same command to resume: accepted chunks are not sent twice.")
        sys.exit(1)
    importer.print_summary(console, report)
    if not report.ok:
        sys.exit(1)


# An event's ledger: verified, or replayed under another policy (tessera/tools/ledger_commands.py).
main.add_command(ledger_commands.verify_command)
main.add_command(ledger_commands.replay_command)
# API keys made at run time (tessera/tools/key_commands.py).
main.add_command(key_commands.keys_command)


if __name__ == "__main__":
    main()
