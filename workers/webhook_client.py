"""One webhook attempt over HTTP, on Tessera's terms: only to addresses `tessera.webhook_urls`
allows, connecting to exactly the addresses it checked (so DNS cannot swap them in between);
no redirects (http.client follows none); one deadline for the whole attempt; and no more than
a few KiB of the answer read. No proxy is used, whatever the environment says: a proxy would
connect to addresses nobody checked.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from tessera.webhook_urls import IPAddress, Target, UnsafeUrl, parse, resolve

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 4096
ERROR_SNIPPET_CHARS = 200
USER_AGENT = "Tessera-Webhooks/1"


@dataclass(frozen=True)
class Attempt:
    status_code: int | None  # None: no HTTP answer at all
    error: str | None  # None when delivered

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Deadline:
    """Shuts the socket down when the attempt's time is up, whatever it is blocked in
    (a server dripping its headers a byte at a time resets no per-read timeout here)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timer = threading.Timer(self.remaining(), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        if self._sock is not None:
            # The plain socket's shutdown, under TLS too: it wakes a blocked read at once.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def post(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    allow_private: bool,
    timeout: float = TIMEOUT_SECONDS,
    tls: ssl.SSLContext | None = None,
) -> Attempt:
    """POST `body` to `url`; what came back (a 2xx is a delivery), never an exception."""
    deadline = _Deadline(time.monotonic() + timeout)
    try:
        target = parse(url)
        addresses = resolve(target, allow_private=allow_private)
    except UnsafeUrl as refused:
        return Attempt(None, f"refused: the URL {refused}")
    sock: socket.socket | None = None
    try:
        sock = _connect(target, addresses, deadline)
        if target.scheme == "https":  # the handshake is bounded by the socket's timeout
            sock.settimeout(deadline.remaining())
            sock = (tls or ssl.create_default_context()).wrap_socket(
                sock, server_hostname=target.host
            )
        deadline.watch(sock)
        connection = _Connection(target, sock)
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException, ValueError) as error:
        if deadline.expired or isinstance(error, TimeoutError):
            return Attempt(None, f"no answer within {timeout:g} s")
        return Attempt(None, _describe(error))
    finally:
        deadline.cancel()
        if sock is not None:
            sock.close()
    if 200 <= status < 300:
        return Attempt(status, None)
    snippet = " ".join(answer.decode("utf-8", "replace").split())[:ERROR_SNIPPET_CHARS]
    return Attempt(status, f"HTTP {status}" + (f": {snippet}" if snippet else ""))


def _connect(target: Target, addresses: list[IPAddress], deadline: _Deadline) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers."""
    failure: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect((str(address), target.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as error:
            sock.close()
            if isinstance(error, TimeoutError):
                raise
            failure = error
    raise failure


class _Connection(http.client.HTTPConnection):
    """http.client over a socket we connected (and checked) ourselves."""

    def __init__(self, target: Target, sock: socket.socket) -> None:
        super().__init__(target.host, target.port)
        self.sock = sock

    def connect(self) -> None:  # pragma: no cover - the socket is given; never reconnect
        raise http.client.NotConnected("the checked connection is gone")


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the receiver closed the connection without answering"
    if isinstance(error, http.client.HTTPException):
        return f"not a valid HTTP answer ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"[:ERROR_SNIPPET_CHARS]
