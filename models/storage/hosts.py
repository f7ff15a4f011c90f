"""The order in which a multi-host URL's hosts are tried: a host that could not be reached
goes to the back until it is reached again.

psycopg tries the hosts in the URL's order, and an unreachable one costs the whole connect
timeout per attempt. After a failover the dead old primary is often first (it was the
primary because it came first), so every new connection of every process paid that timeout
before finding the new primary (docs/SCALING.md, the failover figures). A standby's refusal
(`target_session_attrs=read-write`) is quick and says the host is up: it keeps its place.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

Host = tuple[str, str]  # (host, port) as libpq is given them

# What libpq says when the server answered but is not what we asked for: the host is up.
_ANSWERED = ("read-only", "hot standby", "starting up", "authentication", "password")


def answered(message: str) -> bool:
    """Whether a failed attempt's message shows the server was reached."""
    lowered = message.lower()
    return any(sign in lowered for sign in _ANSWERED)


def split_hosts(host: str, port: str | None) -> list[Host]:
    """libpq's comma-separated `host` and `port` as pairs (one port serves every host)."""
    hosts = host.split(",")
    ports = (port or "").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts):
        raise ValueError("a multi-host URL gives one port, or one port per host")
    return list(zip(hosts, ports, strict=True))


class HostOrder:
    """The hosts to try, unreachable ones last (in the order they failed). Shared by a
    process's connections; each decision is a small critical section."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unreachable: list[Host] = []

    def arrange(self, hosts: Sequence[Host]) -> list[Host]:
        with self._lock:
            down = [h for h in self._unreachable if h in hosts]
        return [h for h in hosts if h not in down] + down

    def unreachable(self, host: Host) -> None:
        with self._lock:
            if host in self._unreachable:
                self._unreachable.remove(host)
            self._unreachable.append(host)

    def reached(self, host: Host) -> None:
        with self._lock:
            if host in self._unreachable:
                self._unreachable.remove(host)
