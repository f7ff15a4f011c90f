"""Hosts for the multi-host fault lab: one Linux network namespace per host, each with a veth
pair whose other end is on a private bridge in the root namespace (which gets the subnet's
first address, so the test process itself can reach every host). Needs root.

Faults, both silent as on a real network (no RST, no ICMP: connections just stop answering):
- `cut(a, b)`: a and b stop hearing each other, everyone else still hears both. Done with a
  permanent neighbour entry pointing the peer's address at a MAC address nobody has, in both
  namespaces: frames are flooded by the bridge and dropped by everyone. (No traffic control
  or netfilter module is needed; the kernels these run on may have none.)
- `link_down(host)`: the host's cable is pulled (its bridge-side veth end goes down).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

NOWHERE_MAC = "02:00:00:de:ad:01"  # locally administered, on no interface of the lab
# One letter per network made by this process: labs of one session (the multi-host, failover,
# Sentinel and PgBouncer labs) may be up at once, and names must stay within Linux's 15
# characters ("ts" + 5 digits + letter + "bouncer").
_LABS = iter("abcdefghijklmnopqrstuvwxyz")


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no `ip`, or a sandbox refusing)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None if it can (creates and removes a probe namespace)."""
    if os.geteuid() != 0:
        return "the multi-host lab needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "the multi-host lab needs iproute2's `ip`"
    probe = f"tsprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "set", "lo", "up")
        _ip("link", "add", f"{probe}a", "type", "veth", "peer", "name", f"{probe}b")
        _ip("link", "del", f"{probe}a")
    except RuntimeError as error:
        return f"network namespaces are not allowed here: {error}"
    finally:
        with contextlib.suppress(RuntimeError):
            _ip("netns", "del", probe)
    return None


def _free_prefix() -> str:
    """A /24 of 10.213.0.0/16 that no interface here uses (another run's lab may be up)."""
    used = subprocess.run(
        ["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    for step in range(250):
        prefix = f"10.213.{(os.getpid() + step) % 250 + 1}"
        if f" {prefix}." not in used:
            return prefix
    raise RuntimeError("no free /24 in 10.213.0.0/16 for the lab")


@dataclass(frozen=True)
class Host:
    name: str
    namespace: str
    address: str
    cable: str  # the bridge-side veth end


@dataclass
class Network:
    prefix: str  # e.g. "10.213.57", a /24
    tag: str
    hosts: dict[str, Host] = field(default_factory=dict)
    _cuts: set[frozenset[str]] = field(default_factory=set)

    @property
    def bridge(self) -> str:
        return f"{self.tag}br"

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    @property
    def subnet(self) -> str:
        return f"{self.prefix}.0/24"

    @classmethod
    def create(cls, numbers: Mapping[str, int]) -> Network:
        """A bridge and one namespace per host, `numbers` giving each host's last octet."""
        tag = f"ts{os.getpid() % 100000}{next(_LABS)}"
        network = cls(prefix=_free_prefix(), tag=tag)
        try:
            _ip("link", "add", network.bridge, "type", "bridge")
            _ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
            _ip("link", "set", network.bridge, "up")
            for name, number in numbers.items():
                network._add_host(name, number)
        except BaseException:
            network.destroy()
            raise
        return network

    def _add_host(self, name: str, number: int) -> None:
        host = Host(name, f"{self.tag}-{name}", f"{self.prefix}.{number}", f"{self.tag}{name}")
        _ip("netns", "add", host.namespace)
        self.hosts[name] = host
        _ip("link", "add", host.cable, "type", "veth", "peer", "name", "eth0", "netns",
            host.namespace)  # fmt: skip
        _ip("link", "set", host.cable, "master", self.bridge, "up")
        _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", host.namespace, "link", "set", "eth0", "up")
        _ip("-n", host.namespace, "link", "set", "lo", "up")

    def destroy(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", host.namespace)
            with contextlib.suppress(RuntimeError):
                _ip("link", "del", host.cable)
        with contextlib.suppress(RuntimeError):
            _ip("link", "del", self.bridge)
        self.hosts.clear()

    def address(self, name: str) -> str:
        return self.hosts[name].address

    def command(self, name: str, argv: Sequence[str]) -> list[str]:
        """`argv` run on host `name`."""
        return ["ip", "netns", "exec", self.hosts[name].namespace, *argv]

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        """Start `argv` on host `name` in its own process group, output to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            return subprocess.Popen(
                self.command(name, argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    # --- faults -----------------------------------------------------------------------------

    def cut(self, a: str, b: str) -> None:
        """a and b stop hearing each other (both directions, silently)."""
        for here, there in ((a, b), (b, a)):
            _ip("-n", self.hosts[here].namespace, "neigh", "replace", self.address(there),
                "lladdr", NOWHERE_MAC, "dev", "eth0", "nud", "permanent")  # fmt: skip
        self._cuts.add(frozenset((a, b)))

    def mend(self, a: str, b: str) -> None:
        for here, there in ((a, b), (b, a)):
            with contextlib.suppress(RuntimeError):
                _ip("-n", self.hosts[here].namespace, "neigh", "del", self.address(there),
                    "dev", "eth0")  # fmt: skip
        self._cuts.discard(frozenset((a, b)))

    def link_down(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].cable, "down")

    def link_up(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].cable, "up")

    def mend_all(self) -> None:
        for pair in list(self._cuts):
            self.mend(*sorted(pair))
        for name in self.hosts:
            self.link_up(name)
