"""One webhook attempt over HTTP, on Tessera's terms: only to addresses `tessera.webhook_urls`
allows, connecting to exactly the addresses it checked (so DNS cannot swap them in between);
no redirects (http.client follows none); one deadline for the whole attempt; and no more than
a few KiB of the answer read. No proxy is used, whatever the environment says: a proxy would
connect to addresses nobody checked.

A sender keeps its connections open between attempts (`Connections`): a TLS handshake per
message would cost more than the message. A kept connection is reused only while its address
is among those the attempt's own check allowed, so the check still decides every attempt.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
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
# A kept connection the receiver closed meanwhile fails at once, before any answer: that
# attempt is made again on a new connection (the receiver deduplicates by webhook-id anyway).
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None  # None: no HTTP answer at all
    error: str | None  # None when delivered

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Watchdog:
    """One thread for every attempt in the process: at an attempt's deadline it shuts its
    socket down, whatever the attempt is blocked in (a receiver dripping its headers a byte at
    a time resets no per-read timeout here)."""

    def __init__(self) -> None:
        self._watched: dict[int, tuple[float, socket.socket]] = {}
        self._tokens = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._changed:
            token = next(self._tokens)
            self._watched[token] = (deadline, sock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines")
                self._thread.daemon = True
                self._thread.start()
            self._changed.notify()
            return token

    def cancel(self, token: int) -> bool:
        """Stop watching; False if the deadline had already struck."""
        with self._changed:
            return self._watched.pop(token, None) is not None

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for token, (deadline, sock) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[token]
                        # the plain socket's shutdown, under TLS too: it wakes a blocked read
                        with contextlib.suppress(OSError):
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                earliest = min((d for d, _ in self._watched.values()), default=now + 60)
                self._changed.wait(max(0.0, earliest - now))


_WATCHDOG = _Watchdog()


class _Connection(http.client.HTTPConnection):
    """http.client over a socket we connected (and checked) ourselves."""

    def __init__(self, target: Target, address: IPAddress, sock: socket.socket) -> None:
        super().__init__(target.host, target.port)
        self.sock = sock
        self.key = _key(target, address)

    def connect(self) -> None:  # pragma: no cover - the socket is given; never reconnect
        raise http.client.NotConnected("the checked connection is gone")


def _key(target: Target, address: IPAddress) -> tuple[str, str, int, str]:
    return (target.scheme, target.host, target.port, str(address))


class Connections:
    """A sender's idle keep-alive connections, by where they lead."""

    def __init__(self, limit: int = 8) -> None:
        self.limit = limit
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def take(self, target: Target, addresses: list[IPAddress]) -> _Connection | None:
        allowed = {_key(target, address) for address in addresses}
        with self._lock:
            for index, connection in enumerate(self._idle):
                if connection.key in allowed:
                    return self._idle.pop(index)
        return None

    def give(self, connection: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self.limit:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def post(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    allow_private: bool,
    timeout: float = TIMEOUT_SECONDS,
    tls: ssl.SSLContext | None = None,
    connections: Connections | None = None,
) -> Attempt:
    """POST `body` to `url`; what came back (a 2xx is a delivery), never an exception."""
    deadline = time.monotonic() + timeout
    try:
        target = parse(url)
        addresses = resolve(target, allow_private=allow_private)
    except UnsafeUrl as refused:
        return Attempt(None, f"refused: the URL {refused}")
    request = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    kept = connections.take(target, addresses) if connections is not None else None
    while True:
        connection = kept
        try:
            if connection is None:
                connection = _open(target, addresses, deadline, tls)
            status, answer, reusable = _exchange(connection, target, request, body, deadline)
        except TimeoutError:
            _close(connection)
            return Attempt(None, f"no answer within {timeout:g} s")
        except (OSError, http.client.HTTPException, ValueError) as error:
            _close(connection)
            if kept is not None and connection is kept and isinstance(error, _STALE):
                kept = None  # the receiver closed the kept connection: once more, on a new one
                continue
            return Attempt(None, _describe(error))
        break
    if reusable and connections is not None:
        connections.give(connection)
    else:
        connection.close()
    if 200 <= status < 300:
        return Attempt(status, None)
    snippet = " ".join(answer.decode("utf-8", "replace").split())[:ERROR_SNIPPET_CHARS]
    return Attempt(status, f"HTTP {status}" + (f": {snippet}" if snippet else ""))


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _open(
    target: Target, addresses: list[IPAddress], deadline: float, tls: ssl.SSLContext | None
) -> _Connection:
    """A connection to the first of the checked addresses that answers (TLS verified against
    the URL's host name, not the address)."""
    failure: OSError = ConnectionError("no address to connect to")
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect((str(address), target.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "https":  # the handshake is bounded by the socket's timeout
                sock.settimeout(_remaining(deadline))
                sock = (tls or ssl.create_default_context()).wrap_socket(
                    sock, server_hostname=target.host
                )
            return _Connection(target, address, sock)
        except OSError as error:
            sock.close()
            if isinstance(error, TimeoutError | ssl.SSLError):
                raise
            failure = error
    raise failure


def _exchange(
    connection: _Connection,
    target: Target,
    headers: Mapping[str, str],
    body: bytes,
    deadline: float,
) -> tuple[int, bytes, bool]:
    """Send the request, read the answer (capped): status, body, and whether the connection
    may carry another request."""
    sock = connection.sock
    assert sock is not None
    sock.settimeout(_remaining(deadline))
    token = _WATCHDOG.watch(sock, deadline)
    try:
        connection.request("POST", target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        answer = response.read(MAX_RESPONSE_BYTES)
        reusable = response.isclosed() and not response.will_close
    except (OSError, http.client.HTTPException):
        if not _WATCHDOG.cancel(token):
            raise TimeoutError from None
        raise
    if not _WATCHDOG.cancel(token):
        raise TimeoutError  # answered just as the deadline struck: the socket is shut
    return response.status, answer, reusable


def _close(connection: _Connection | None) -> None:
    if connection is not None:
        connection.close()


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
