"""Debian's PgBouncer in transaction mode in front of a PostgreSQL, on a free local port, for
the tests: the configuration docs/SCALING.md gives (minus TLS), started and stopped here."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import make_url


def unavailable_reason() -> str | None:
    if shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer").exists():
        return "the PgBouncer tests need Debian's pgbouncer (apt-get install pgbouncer)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(
    home: Path,
    database_url: str,
    *,
    listen_addr: str = "127.0.0.1",
    port: int,
    pool_size: int = 4,
) -> tuple[Path, str]:
    """PgBouncer's files in `home` (owned by the user it runs as): the configuration
    docs/SCALING.md gives, in transaction mode, in front of `database_url`. Returns the ini
    file and the URL through it, marked `?pgbouncer=true`."""
    url = make_url(database_url)
    user, password = url.username or "postgres", url.password or ""
    (home / "users.txt").write_text(f'"{user}" "{password}"\n')
    ini = home / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
{url.database} = host={url.host} port={url.port} dbname={url.database}

[pgbouncer]
listen_addr = {listen_addr}
listen_port = {port}
unix_socket_dir =
auth_type = plain
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
idle_transaction_timeout = 5
tcp_keepalive = 1
tcp_keepidle = 5
tcp_keepintvl = 1
tcp_keepcnt = 3
server_reset_query =
logfile = {home / "pgbouncer.log"}
"""
    )
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        for each in home.iterdir():
            os.chown(each, nobody.pw_uid, nobody.pw_gid)
    credentials = f"{user}:{password}@" if password else f"{user}@"
    through = f"postgresql://{credentials}{listen_addr}:{port}/{url.database}?pgbouncer=true"
    return ini, through


def argv(ini: Path) -> list[str]:
    """PgBouncer's command line, as `nobody` when we are root."""
    command = ["pgbouncer", str(ini)]
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    return command


def wait_listening(
    process: subprocess.Popen[bytes], host: str, port: int, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {process.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"pgbouncer did not listen on {host}:{port}")


@contextlib.contextmanager
def running_pgbouncer(database_url: str) -> Iterator[str]:
    """A transaction-pooling PgBouncer in front of `database_url`; yields the URL through it,
    marked `?pgbouncer=true`."""
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="tessera-pgbouncer-"))
    ini, through = write_config(home, database_url, port=port)
    process = subprocess.Popen(argv(ini), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(process, "127.0.0.1", port)
        yield through
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        shutil.rmtree(home, ignore_errors=True)
