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


@contextlib.contextmanager
def running_pgbouncer(database_url: str) -> Iterator[str]:
    """A transaction-pooling PgBouncer in front of `database_url`; yields the URL through it,
    marked `?pgbouncer=true`."""
    url = make_url(database_url)
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="tessera-pgbouncer-"))
    user, password = url.username or "postgres", url.password or ""
    (home / "users.txt").write_text(f'"{user}" "{password}"\n')
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
{url.database} = host={url.host} port={url.port} dbname={url.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = plain
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
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
    argv = ["pgbouncer", str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        for each in home.iterdir():
            os.chown(each, nobody.pw_uid, nobody.pw_gid)
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None:
                raise RuntimeError(
                    f"pgbouncer exited: {process.stderr.read() if process.stderr else ''!r}"
                )
            time.sleep(0.05)
        credentials = f"{user}:{password}@" if password else f"{user}@"
        yield f"postgresql://{credentials}127.0.0.1:{port}/{url.database}?pgbouncer=true"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        shutil.rmtree(home, ignore_errors=True)
