"""`REDIS_URL` as one server (`redis://`, `rediss://`, `unix://`) or as a Sentinel group, and
what Celery's broker makes of a Sentinel URL. Pure: nothing here connects.

The Sentinel form is `redis+sentinel://[[user]:password@]h1:26379,h2:26379/mymaster[?db=N]`:
the sentinels (port 26379 unless given), then the master's name. It is the form flask-limiter's
storage (`limits`) reads, so the rate limiter takes the same URL as every other client. A
password is the master's and the sentinels' alike (as `limits` uses it).
"""

from __future__ import annotations

import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
# Tessera's guarded kombu transports (tessera/broker.py), by the name Celery imports them.
BROKER_TRANSPORT = "tessera.broker:Transport"
SENTINEL_BROKER_TRANSPORT = "tessera.broker:SentinelTransport"


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def auth(self) -> dict[str, str]:
        """The credentials as redis-py's keyword arguments (none when the URL has none)."""
        given = {"username": self.username, "password": self.password}
        return {name: value for name, value in given.items() if value}

    def limits_uri(self) -> str:
        """The URL `limits` reads: every port spelled out, no query (the database number goes
        in its storage options)."""
        hosts = ",".join(f"{_host(host)}:{port}" for host, port in self.sentinels)
        return f"{SENTINEL_SCHEME}://{self._userinfo()}{hosts}/{self.master}"

    def _userinfo(self) -> str:
        if not self.username and not self.password:
            return ""
        user = urllib.parse.quote(self.username or "", safe="")
        password = urllib.parse.quote(self.password or "", safe="")
        return f"{user}:{password}@" if self.password else f"{user}@"


def is_sentinel_url(url: str) -> bool:
    return url.split("://", 1)[0].lower() == SENTINEL_SCHEME


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a Sentinel URL; ValueError naming what is wrong with a malformed one."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != SENTINEL_SCHEME:
        raise ValueError(f"a Sentinel URL starts with {SENTINEL_SCHEME}://")
    hostlist = parts.netloc.rpartition("@")[2]
    sentinels = tuple(_sentinel(each) for each in hostlist.split(",") if each.strip())
    if not sentinels:
        raise ValueError("a Sentinel URL names at least one sentinel (host[:port])")
    master = parts.path.strip("/")
    if not master or "/" in master:
        raise ValueError("a Sentinel URL ends with the master's name: …/mymaster")
    query = urllib.parse.parse_qs(parts.query)
    unknown = set(query) - {"db"}
    if unknown:
        raise ValueError(f"a Sentinel URL takes only ?db=N, not {', '.join(sorted(unknown))}")
    db_text = query.get("db", ["0"])[-1]
    if not db_text.isdigit():
        raise ValueError(f"db must be a database number, not {db_text!r}")
    return SentinelUrl(
        sentinels=sentinels,
        master=urllib.parse.unquote(master),
        db=int(db_text),
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def _sentinel(location: str) -> tuple[str, int]:
    try:
        probe = urllib.parse.urlsplit(f"//{location.strip()}")
        port = probe.port
    except ValueError as error:
        raise ValueError(f"{location.strip()!r} is not a host[:port]") from error
    if not probe.hostname:
        raise ValueError(f"{location.strip()!r} is not a host[:port]")
    return probe.hostname, port or SENTINEL_PORT


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# A master that dies or drops off the network sends nothing, so a connection to it fails only
# when TCP gives up. The waiters' pub/sub listener and a worker's broker consumer only read:
# they would sit on the dead master (redis-py's pub/sub health check sends a PING whose
# missing answer it never notices), missing a Sentinel failover until its address answered
# again (measured in the Sentinel drill, docs/SCALING.md). Probed after 2 s idle, 2 probes 1 s
# apart, and data unacknowledged for 2.5 s ends it: a dead master is noticed within ~4 s and
# the next connection asks the sentinels.
KEEPALIVE: dict[str, Any] = {
    "socket_keepalive": True,
    "socket_keepalive_options": {
        socket.TCP_KEEPIDLE: 2,
        socket.TCP_KEEPINTVL: 1,
        socket.TCP_KEEPCNT: 2,
        socket.TCP_USER_TIMEOUT: 2500,
    },
}


# --- Celery's broker --------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    """What Celery needs for a `REDIS_URL`: its broker URL, the transport class, and the
    transport options that come on top of celeryconfig's own."""

    url: str
    transport: str
    transport_options: dict[str, Any] = field(default_factory=dict)


def celery_broker(redis_url: str, socket_timeout: float) -> Broker:
    """kombu spells a Sentinel group `sentinel://h1:26379/N;sentinel://h2:26379/N` with the
    master's name (and the sentinels' own credentials and timeouts) in the transport options;
    its Sentinel transport asks the sentinels for the master on every new connection, so
    workers and senders follow a failover on their next reconnect."""
    if not is_sentinel_url(redis_url):
        return Broker(redis_url, BROKER_TRANSPORT)
    group = parse_sentinel_url(redis_url)
    userinfo = group._userinfo()
    url = ";".join(
        f"sentinel://{userinfo}{_host(host)}:{port}/{group.db}" for host, port in group.sentinels
    )
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        **group.auth(),
    }
    return Broker(
        url,
        SENTINEL_BROKER_TRANSPORT,
        {"master_name": group.master, "sentinel_kwargs": sentinel_kwargs},
    )
