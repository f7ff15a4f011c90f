"""Hostile and broken input over real HTTP (gunicorn in front): each answer a clear 4xx, never a
500, and nothing stored (every table's row count is the same before and after)."""

from __future__ import annotations

import functools
import json
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from api.app import route_table
from api.routes import Operation
from tests.faults.lab import ADMIN_KEY, CLIENT_KEY, FaultLab

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
OVER_LIMIT = 4 * MiB + 1
DEPTH = 100_000


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        if not self.headers.get("content-type", "").startswith("application/problem+json"):
            return None
        try:
            return str(json.loads(self.body)["code"])
        except ValueError:
            return None


def raw(lab: FaultLab, head: bytes, body: bytes = b"") -> Answer:
    """Send bytes exactly as given (no client library tidying them up) and read the answer."""
    port = lab.stack.api_port
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head + b"\r\n" + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status, headers, payload)


def request_head(
    method: str, path: str, extra: list[bytes] | None = None, length: int | None = None
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1".encode(),
        b"Host: 127.0.0.1",
        f"Authorization: Bearer {ADMIN_KEY}".encode(),
        b"Connection: close",
    ]
    if length is not None:
        lines += [b"Content-Type: application/json", f"Content-Length: {length}".encode()]
    lines += extra or []
    return b"".join(line + b"\r\n" for line in lines)


@pytest.fixture
def target(lab: FaultLab) -> tuple[str, str]:
    """An existing event and user, so that a request that got through would change state."""
    suffix = uuid.uuid4().hex[:8]
    event_id, user_id = f"bad-e-{suffix}", f"bad-u-{suffix}"
    lab.seed_users([user_id])
    lab.create_event(event_id, capacity=3)
    return event_id, user_id


def unchanged(lab: FaultLab, call: Callable[[], Answer]) -> Answer:
    before = lab.table_counts()
    answer = call()
    assert lab.table_counts() == before, "a refused request changed stored state"
    return answer


def via_requests(response: requests.Response) -> Answer:
    return Answer(
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
    )


def post(lab: FaultLab, path: str, data: bytes | Iterator[bytes], key: str = ADMIN_KEY) -> Answer:
    return send(lab, "POST", path, data, key)


def send(
    lab: FaultLab, method: str, path: str, data: bytes | Iterator[bytes], key: str = ADMIN_KEY
) -> Answer:
    try:
        response = requests.request(
            method,
            lab.base_url + path,
            data=data,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=30,
        )
    except requests.ConnectionError as error:  # the server may close before reading it all
        pytest.fail(f"no answer to an oversized {method} {path}: {error}")
    return via_requests(response)


# Every operation that takes a JSON body, from the route table: a new one is tested here too.
WITH_BODY: dict[str, Operation] = {
    op.operation_id: op for op in route_table().operations if op.body is not None
}


def send_to(
    lab: FaultLab, operation_id: str, target: tuple[str, str], body: bytes | Iterator[bytes]
) -> Answer:
    """Call the operation on the target event and user."""
    operation = WITH_BODY[operation_id]
    event_id, user_id = target
    path = operation.rule.replace("<event_id>", event_id).replace("<user_id>", user_id)
    assert "<" not in path, f"no value here for a parameter of {operation.rule}"
    return send(lab, operation.method, path, body)


# --- oversized bodies ---------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", list(WITH_BODY))
def test_a_body_over_4_mib_is_refused_413_and_stores_nothing(
    lab: FaultLab, target: tuple[str, str], operation_id: str
) -> None:
    body = b'{"userId": "' + b"a" * OVER_LIMIT + b'"}'

    answer = unchanged(lab, lambda: send_to(lab, operation_id, target, body))

    assert (answer.status, answer.code) == (413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_body_over_4_mib_without_a_length_is_refused_413(
    lab: FaultLab, target: tuple[str, str]
) -> None:
    event_id, _ = target

    def chunks() -> Iterator[bytes]:
        yield b'{"userId": "'
        for _ in range(5):
            yield b"a" * MiB
        yield b'"}'

    answer = unchanged(lab, lambda: post(lab, f"/events/{event_id}/registrations", chunks()))

    assert (answer.status, answer.code) == (413, "PAYLOAD_TOO_LARGE")


# --- malformed JSON -------------------------------------------------------------------------

DEEP_LIST = b'{"userId": ' + b"[" * DEPTH + b"]" * DEPTH + b"}"
DEEP_OBJECT = b'{"a":' * DEPTH + b"1" + b"}" * DEPTH
BAD_BODIES: dict[str, bytes] = {
    "deeply nested lists": DEEP_LIST,
    "deeply nested objects": DEEP_OBJECT,
    "invalid UTF-8": b'{"userId": "\xff\xfe\xfd"}',
    "overlong UTF-8 slash": b'{"userId": "\xc0\xaf"}',
    "UTF-16 with a BOM": '{"userId": "ann"}'.encode("utf-16"),
    "a lone surrogate escape": b'{"userId": "\\ud800"}',
    "NaN": b'{"userId": NaN}',
    "a NUL byte": b'{"userId": "a\x00b"}',
    "truncated": b'{"userId": "ann"',
    "a JSON array": b'[{"userId": "ann"}]',
    "null": b"null",
    "empty": b"",
}


@pytest.mark.parametrize(
    ("name", "operation_id"),
    [
        (name, operation_id)
        for operation_id, operation in WITH_BODY.items()
        for name in BAD_BODIES
        # where the body is optional (an offer's answer), no body at all is a valid request
        if operation.body_required or BAD_BODIES[name]
    ],
)
def test_a_malformed_body_is_refused_422_and_stores_nothing(
    lab: FaultLab, target: tuple[str, str], name: str, operation_id: str
) -> None:
    answer = unchanged(lab, lambda: send_to(lab, operation_id, target, BAD_BODIES[name]))

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR"), answer.body[:300]


def test_a_batch_of_10001_items_is_refused_422_and_stores_nothing(
    lab: FaultLab, target: tuple[str, str]
) -> None:
    event_id, user_id = target
    items = [{"type": "register", "userId": user_id, "eventId": event_id}] * 10_001
    body = json.dumps({"items": items}).encode()

    answer = unchanged(lab, lambda: post(lab, "/batches", body, key=CLIENT_KEY))

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR")


# --- hostile paths and headers --------------------------------------------------------------

TRAVERSALS = [
    ("GET", "/events/..%2F..%2Fetc/registrations"),
    ("POST", "/events/..%2F..%2Fetc/registrations"),
    ("DELETE", "/events/..%2F..%2Fetc/registrations/..%2Fpasswd"),
    ("GET", "/events/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("GET", "/users/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/tickets/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/batches/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/docs/..%2F..%2F..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/docs/../../../../etc/passwd"),
    ("GET", "/docs/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    ("GET", "/events/%00/registrations"),
    ("GET", "/events/%FF%FE/registrations"),
]


@pytest.mark.parametrize(("method", "path"), TRAVERSALS)
def test_a_path_traversal_in_an_id_is_404_and_reads_no_file(
    lab: FaultLab, method: str, path: str
) -> None:
    body = b'{"userId": "x"}' if method == "POST" else b""
    head = request_head(method, path, length=len(body) if body else None)

    answer = unchanged(lab, lambda: raw(lab, head, body))

    assert answer.status == 404, (answer.status, answer.body[:300])
    assert b"root:" not in answer.body


@pytest.mark.parametrize(
    "value",
    [
        "clé-unicode".encode(),  # UTF-8, not ASCII
        b"cl\xe9-latin-1",
        b"tab\there",
        b"x" * 256,
    ],
    ids=["utf-8", "latin-1", "tab", "too-long"],
)
def test_an_idempotency_key_that_is_not_printable_ascii_is_refused_422(
    lab: FaultLab, target: tuple[str, str], value: bytes
) -> None:
    event_id, user_id = target
    body = f'{{"userId": "{user_id}"}}'.encode()
    head = request_head(
        "POST",
        f"/events/{event_id}/registrations",
        [b"Idempotency-Key: " + value],
        length=len(body),
    )

    answer = unchanged(lab, lambda: raw(lab, head, body))

    assert (answer.status, answer.code) == (422, "VALIDATION_ERROR"), answer.body[:300]


@pytest.mark.parametrize(
    "header",
    [
        b"Idempotency-Key: abc\rX-Injected: yes",  # a bare CR inside the value
        b"Idempotency-Key: abc\nX-Injected: yes",  # a bare LF inside the value
        b"Idempotency-Key: abc\r\n X-Injected: yes",  # obsolete line folding
        b"Idempotency-Key: abc\x00X-Injected: yes",  # a NUL
        b"Idempotency-Key: bell\x07",  # other control characters
        b"Idempotency-Key: del\x7f",
    ],
    ids=["bare-cr", "bare-lf", "obs-fold", "nul", "control", "delete"],
)
def test_cr_lf_or_controls_smuggled_into_an_idempotency_key_are_refused_and_inject_nothing(
    lab: FaultLab, target: tuple[str, str], header: bytes
) -> None:
    """CR, LF and other controls cannot be part of a header value (RFC 9110): gunicorn refuses
    such a request before the app sees it (400, its own HTML page, not problem+json) or the app
    does (422); either way nothing is stored and nothing reaches a response header."""
    event_id, user_id = target
    body = f'{{"userId": "{user_id}"}}'.encode()
    head = request_head("POST", f"/events/{event_id}/registrations", [header], length=len(body))

    answer = unchanged(lab, lambda: raw(lab, head, body))

    assert answer.status in {400, 422}, (answer.status, answer.body[:300])
    assert "x-injected" not in answer.headers


def test_a_request_id_with_an_injected_header_is_not_echoed(lab: FaultLab) -> None:
    head = request_head("GET", "/live", [b"X-Request-ID: abc%0d%0aSet-Cookie:%20evil=1"])

    answer = raw(lab, head)

    assert answer.status == 200
    assert "set-cookie" not in answer.headers
    assert "%0d" not in answer.headers["x-request-id"].lower()


# --- all of it, at volume ---------------------------------------------------------------------


def test_a_flood_of_bad_requests_gets_only_4xx_and_leaves_the_api_ready(
    lab: FaultLab, target: tuple[str, str]
) -> None:
    """600 bad requests from 8 clients at once: every answer a 4xx, nothing stored, and the API
    answers /ready afterwards."""
    event_id, _ = target
    small_bodies = [b for name, b in BAD_BODIES.items() if "deeply" not in name]
    huge = b'{"userId": "' + b"a" * OVER_LIMIT + b'"}'
    commands = f"/events/{event_id}/registrations"
    calls: list[Callable[[], Answer]] = []
    for i in range(600):
        if i % 100 == 0:
            calls.append(functools.partial(post, lab, "/users", huge))
        elif i % 25 == 0:
            calls.append(functools.partial(post, lab, commands, DEEP_LIST))
        elif i % 3 == 0:
            method, path = TRAVERSALS[i % len(TRAVERSALS)]
            calls.append(functools.partial(raw, lab, request_head(method, path)))
        else:
            calls.append(
                functools.partial(post, lab, commands, small_bodies[i % len(small_bodies)])
            )
    before = lab.table_counts()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda call: call(), calls))

    statuses = Counter(a.status for a in answers)
    assert all(400 <= status < 500 for status in statuses), statuses
    assert lab.table_counts() == before
    assert requests.get(lab.base_url + "/ready", timeout=10).status_code == 200
