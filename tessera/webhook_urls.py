"""Which webhook URLs Tessera will call: http(s) only, and never an address inside the network
it runs in (loopback, private, link-local, ...) unless `TESSERA_WEBHOOK_ALLOW_PRIVATE=1`.

Checked when a subscription is made (the API) and again before each delivery (the workers),
whose HTTP client then connects to exactly the addresses checked here: a name that resolved
to a public address at subscription time and to 127.0.0.1 now (DNS rebinding) is refused.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# 6to4 (RFC 3056, deprecated by RFC 7526) wraps an IPv4 address that a relay, chosen by routing
# we do not control, unwraps: the whole prefix is refused rather than trusting the embedded
# address, since no receiver worth supporting is reachable only over 6to4.
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
# NAT64 (RFC 6052) gateways translate the well-known prefix to the IPv4 address in its last 32
# bits: judge that address. The local-use prefix (RFC 8215) stays inside its own network.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeUrl(ValueError):
    """A URL Tessera will not call; the message says why (it is shown to the admin)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # a name or an IP literal, without brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse(url: str) -> Target:
    """The URL's parts, or UnsafeUrl for anything but a plain absolute http(s) URL."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"must be at most {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ord(char) <= 0x20 or char == "\x7f" for char in url):
        raise UnsafeUrl("must be ASCII without spaces or control characters (use punycode)")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl("must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("must not carry credentials (receivers verify the signature instead)")
    if parts.fragment or url.endswith("#"):
        raise UnsafeUrl("must not have a fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrl("must name a host")
    if port == 0:
        raise UnsafeUrl("must not use port 0")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or DEFAULT_PORTS[scheme], path)


def refusal(address: IPAddress) -> str | None:
    """Why Tessera will not call this address, or None if it is a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        for network, reason in _REFUSED_V6:
            if address in network:
                return reason
        address = _unwrapped(address)
    return next((reason for test, reason in _REASONS if test(address)), None)


def _unwrapped(address: ipaddress.IPv6Address) -> IPAddress:
    """The IPv4 address a packet to this one actually reaches, if it wraps one."""
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address


_REFUSED_V6 = (
    (SIX_TO_FOUR, "6to4 (an IPv4 address tunnelled through relays)"),
    (NAT64_LOCAL, "private"),
)
_REASONS: tuple[tuple[Callable[[IPAddress], bool], str], ...] = (
    (lambda a: a.is_loopback, "loopback"),
    (lambda a: a.is_link_local, "link-local"),
    (lambda a: a.is_private, "private"),
    (lambda a: a.is_multicast or a.is_unspecified or a.is_reserved, "not a unicast address"),
    # shared (carrier-grade NAT), benchmarking, documentation, ...
    (lambda a: not a.is_global, "not a public address"),
)


def resolve(target: Target, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to, every one of them allowed; UnsafeUrl if the host does not
    resolve or any address it resolves to is refused (an attacker's name may offer a public
    and a private address and let chance pick)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise UnsafeUrl(f"host {target.host!r} does not resolve") from None
        addresses = []
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise UnsafeUrl(f"resolves to {address}, which is {reason}")
    return addresses


def check(url: str, *, allow_private: bool) -> Target:
    """Parse and check a URL as a subscription is made. With private addresses allowed (local
    testing) the host need not resolve yet: each delivery resolves it anyway."""
    target = parse(url)
    if not allow_private:
        resolve(target, allow_private=False)
    return target
