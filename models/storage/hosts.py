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
import time
from collections.abc import Callable, Sequence

Host = tuple[str, str]  # (host, port) as libpq is given them

# A host found unreachable this recently is not tried at all while another host is left: during
# a failover the dead primary would cost every new connection its connect timeout, only to
# fail again, while the standbys answer at once. About Patroni's ttl: by then a new primary is
# up, or the host is tried again.
RECHECK_AFTER_SECONDS = 5.0

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

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._unreachable: dict[Host, float] = {}  # when each was last found unreachable

    def arrange(self, hosts: Sequence[Host]) -> list[Host]:
        with self._lock:
            down = [h for h in self._unreachable if h in hosts]
        return [h for h in hosts if h not in down] + down

    def to_try(self, hosts: Sequence[Host]) -> list[Host]:
        """`arrange`d, without the hosts found unreachable in the last RECHECK_AFTER_SECONDS
        unless no other host is left."""
        now = self._clock()
        with self._lock:
            recent = {h for h, at in self._unreachable.items() if now - at < RECHECK_AFTER_SECONDS}
        arranged = self.arrange(hosts)
        return [h for h in arranged if h not in recent] or arranged

    def unreachable(self, host: Host) -> None:
        with self._lock:
            self._unreachable.pop(host, None)
            self._unreachable[host] = self._clock()

    def reached(self, host: Host) -> None:
        with self._lock:
            self._unreachable.pop(host, None)
