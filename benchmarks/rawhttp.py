"""A minimal asyncio HTTP/1.1 client for holding thousands of connections open cheaply: one
socket and one coroutine per waiter, no thread, no `requests.Session`.

Enough of HTTP/1.1 for the benchmark's own requests: keep-alive, `Content-Length`, chunked and
read-until-close bodies, and an incremental Server-Sent Events parser.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """The server broke the protocol or closed the connection mid-response."""


@dataclass
class Head:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class Connection:
    """One keep-alive connection; requests on it go one after another."""

    def __init__(self, host: str, port: int, default_headers: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.default_headers = default_headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self.writer is not None and not self.writer.is_closing()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=MAX_HEAD_BYTES
        )

    async def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        if not self.is_open:
            await self.open()
        assert self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        for name, value in {**self.default_headers, **(headers or {})}.items():
            lines.append(f"{name}: {value}")
        if body or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def read_head(self) -> Head:
        assert self.reader is not None
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            raise HttpError("connection closed before a response") from error
        except asyncio.LimitOverrunError as error:
            raise HttpError("response head too long") from error
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP response: {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return Head(int(parts[1]), headers)

    async def body_chunks(self, head: Head) -> AsyncIterator[bytes]:
        """The body as it arrives (decoded from chunked framing if need be)."""
        assert self.reader is not None
        reader = self.reader
        try:
            if "chunked" in head.headers.get("transfer-encoding", "").lower():
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        # trailers (if any), up to the empty line
                        while (await reader.readuntil(b"\r\n")) != b"\r\n":
                            pass
                        return
                    chunk = await reader.readexactly(size)
                    await reader.readexactly(2)
                    yield chunk
            elif "content-length" in head.headers:
                remaining = int(head.headers["content-length"])
                while remaining > 0:
                    chunk = await reader.read(min(remaining, 65536))
                    if not chunk:
                        raise HttpError("connection closed mid-body")
                    remaining -= len(chunk)
                    yield chunk
            else:  # HTTP/1.0-style: the body ends when the connection does
                while chunk := await reader.read(65536):
                    yield chunk
                self.discard()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            raise HttpError(f"bad body framing: {error!r}") from error

    async def read_body(self, head: Head) -> bytes:
        body = b"".join([chunk async for chunk in self.body_chunks(head)])
        if not head.keep_alive:
            self.discard()
        return body

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[Head, bytes]:
        await self.send(method, path, body, headers)
        head = await self.read_head()
        return head, await self.read_body(head)

    def discard(self) -> None:
        """Close the socket without waiting (thousands at once at the end of a run)."""
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()


@dataclass
class SseMessage:
    event: str
    data: str
    id: str | None


@dataclass
class SseParser:
    """Incremental `text/event-stream` parsing: feed bytes, get complete messages."""

    buffer: str = ""
    last_id: str | None = None
    _decoder_tail: bytes = field(default=b"", repr=False)

    def feed(self, chunk: bytes) -> list[SseMessage]:
        data = self._decoder_tail + chunk
        # a multi-byte UTF-8 character may be split between chunks
        try:
            text = data.decode("utf-8")
            self._decoder_tail = b""
        except UnicodeDecodeError as error:
            text = data[: error.start].decode("utf-8")
            self._decoder_tail = data[error.start :]
        self.buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        messages: list[SseMessage] = []
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            message = self._message(block)
            if message is not None:
                messages.append(message)
        return messages

    def _message(self, block: str) -> SseMessage | None:
        event, data, message_id = "message", [], None
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue  # a comment (keep-alive)
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                message_id = value
        if message_id is not None:
            self.last_id = message_id
        if not data:
            return None  # e.g. the `retry:` preamble
        return SseMessage(event, "\n".join(data), message_id)
