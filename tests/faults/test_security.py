"""Who may call what, over real HTTP: every route of the app against {no key, unknown key,
client key, admin key}; tickets and batches private to the key that created them; Flower behind
basic auth; the embedded servers reachable from this machine only."""

from __future__ import annotations

import contextlib
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
import requests
from flask import Flask

from api.app import create_app
from tessera.config import ApiKey, Settings
from tessera.tools.servers import free_port
from tests.faults.lab import ADMIN_KEY, CLIENT_KEY, OTHER_CLIENT_KEY, FaultLab

pytestmark = pytest.mark.e2e

PUBLIC_PATHS = re.compile(
    r"^/(health|live|ready|openapi\.json|docs(/.*)?|console(/.*)?|static/.*)$"
)
# The writes a client key may make (CONTRACT.md, Auth): commands (offers' answers among them)
# and batches. Every other write creates, changes or deletes a user or an event: admin-only.
CLIENT_WRITES = {
    ("POST", "/events/<event_id>/registrations"),
    ("DELETE", "/events/<event_id>/registrations/<user_id>"),
    ("POST", "/events/<event_id>/offers/<user_id>/accept"),
    ("POST", "/events/<event_id>/offers/<user_id>/decline"),
    ("POST", "/batches"),
}
# Webhooks and keys are admin-only, reads included (CONTRACT.md: "Webhooks (admin keys)", "Keys
# managed at run time (admin keys)").
ADMIN_ONLY_PREFIXES = ("/webhooks", "/keys")
MISSING_ID = "sec-missing"


@dataclass(frozen=True)
class Route:
    method: str
    rule: str

    @property
    def path(self) -> str:
        def fill(match: re.Match[str]) -> str:
            return "swagger-ui.css" if match.group(1) == "path:filename" else MISSING_ID

        return re.sub(r"<([^>]+)>", fill, self.rule)

    @property
    def public(self) -> bool:
        return bool(PUBLIC_PATHS.match(self.rule))

    @property
    def admin_only(self) -> bool:
        if self.rule.startswith(ADMIN_ONLY_PREFIXES):
            return True
        return self.method not in {"GET", "HEAD"} and (self.method, self.rule) not in CLIENT_WRITES

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def app_routes(lab: FaultLab) -> list[Route]:
    """Every (method, rule) the app routes, read from its url_map."""
    app: Flask = create_app(
        Settings(
            database_url=lab.urls.database_url,
            redis_url=lab.urls.redis_url,
            api_keys=(ApiKey.of(ADMIN_KEY, "admin", lab.stack.secret_key),),
            secret_key=lab.stack.secret_key,
            rate_limit="off",
        )
    )
    try:
        return sorted(
            (
                Route(method, rule.rule)
                for rule in app.url_map.iter_rules()
                for method in sorted(rule.methods or ())
                if method not in {"HEAD", "OPTIONS"}
            ),
            key=str,
        )
    finally:
        context = app.extensions["tessera"]
        context.sessions.kw["bind"].dispose()
        context.redis.close()


def call(lab: FaultLab, route: Route, key: str | None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, object] | None = {} if route.method in {"POST", "PUT", "PATCH"} else None
    with requests.request(
        route.method,
        lab.base_url + route.path,
        json=body,
        headers=headers,
        timeout=10,
        stream=True,  # the SSE stream answers with headers first; we read no further
    ) as response:
        return response.status_code


def test_every_route_answers_the_key_matrix_of_the_contract(lab: FaultLab) -> None:
    routes = app_routes(lab)
    assert len(routes) >= 20, routes
    wrong: list[str] = []
    for route in routes:
        statuses = {
            who: call(lab, route, key)
            for who, key in (
                ("none", None),
                ("unknown", "not-a-key"),
                ("client", CLIENT_KEY),
                ("admin", ADMIN_KEY),
            )
        }
        if route.public:
            expected_denied: dict[str, int | None] = dict.fromkeys(statuses)
        else:
            expected_denied = {
                "none": 401,
                "unknown": 401,
                "client": 403 if route.admin_only else None,
                "admin": None,
            }
        for who, status in statuses.items():
            expected = expected_denied[who]
            if expected is not None and status != expected:
                wrong.append(f"{route} with {who} key: {status}, expected {expected}")
            if expected is None and status in {401, 403}:
                wrong.append(f"{route} with {who} key: {status}, expected to be let through")
    assert not wrong, "\n".join(wrong)


def test_the_public_routes_answer_without_a_key(lab: FaultLab) -> None:
    for path in ("/health", "/live", "/ready", "/openapi.json", "/docs", "/console"):
        response = requests.get(lab.base_url + path, timeout=10)
        assert response.status_code == 200, (path, response.status_code)


def test_a_client_key_cannot_see_another_keys_tickets_or_batches(lab: FaultLab) -> None:
    suffix = uuid.uuid4().hex[:8]
    event_id, user_id = f"sec-e-{suffix}", f"sec-u-{suffix}"
    lab.seed_users([user_id])
    lab.create_event(event_id, capacity=2)
    owner = {"Authorization": f"Bearer {CLIENT_KEY}"}
    other = {"Authorization": f"Bearer {OTHER_CLIENT_KEY}"}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    ticket = requests.post(
        f"{lab.base_url}/events/{event_id}/registrations",
        json={"userId": user_id},
        headers=owner,
        timeout=10,
    )
    assert ticket.status_code == 202, ticket.text
    batch = requests.post(
        f"{lab.base_url}/batches",
        json={"items": [{"type": "unregister", "userId": user_id, "eventId": event_id}]},
        headers=owner,
        timeout=10,
    )
    assert batch.status_code == 202, batch.text
    private = {
        f"/tickets/{ticket.json()['ticketId']}": "TICKET_NOT_FOUND",
        f"/batches/{batch.json()['batchId']}": "BATCH_NOT_FOUND",
        f"/batches/{batch.json()['batchId']}/tickets": "BATCH_NOT_FOUND",
    }

    for path, code in private.items():
        seen_by_other = requests.get(lab.base_url + path, headers=other, timeout=10)
        assert (seen_by_other.status_code, seen_by_other.json()["code"]) == (404, code), path
        assert requests.get(lab.base_url + path, headers=owner, timeout=10).status_code == 200
        assert requests.get(lab.base_url + path, headers=admin, timeout=10).status_code == 200


def _listening_addresses(pid: int) -> set[str]:
    process = psutil.Process(pid)
    found = set()
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            for connection in proc.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN:
                    found.add(connection.laddr.ip)
    return found


def test_the_embedded_postgresql_and_redis_listen_on_loopback_only(lab: FaultLab) -> None:
    postgres_pid = lab.postgres.postmaster_pid()
    redis_pid = lab.redis.pid()
    assert postgres_pid is not None
    assert redis_pid is not None

    assert _listening_addresses(postgres_pid) == {"127.0.0.1"}
    assert _listening_addresses(redis_pid) == {"127.0.0.1"}
    assert _listening_addresses(lab.stack.processes["api"].pid) == {"127.0.0.1"}


FLOWER_AUTH = ("ops", "flower-secret")


@pytest.fixture
def flower(lab: FaultLab) -> Iterator[str]:
    """`tessera flower` with TESSERA_FLOWER_AUTH, against the lab's servers; skipped if it does
    not answer within 45 s (a busy machine)."""
    port = free_port()
    saved = lab.stack.env
    lab.stack.env = {**saved, "TESSERA_FLOWER_AUTH": ":".join(FLOWER_AUTH)}
    try:
        lab.stack.spawn(
            "flower", [sys.executable, "-m", "tessera.tools.cli", "flower", "--port", str(port)]
        )
    finally:
        lab.stack.env = saved
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            try:
                requests.get(url + "/healthcheck", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or not lab.stack.running("flower"):
                    pytest.skip(f"Flower did not start: {lab.log_tail('flower', 1500)}")
                time.sleep(0.25)
        yield url
    finally:
        lab.stack.stop("flower")


FLOWER_PRIVATE = (
    "/",
    "/workers",
    "/tasks",
    "/broker",
    "/api/workers",
    "/api/tasks",
    "/api/task/info/x",
    "/worker/x",
    "/task/x",
)
# Flower (upstream) serves these two without authentication, for probes and Prometheus
# scrapers; /metrics shows worker names and task counts, nothing of the tickets. Pinned here so
# that a change either way is noticed.
FLOWER_OPEN = ("/healthcheck", "/metrics")


def test_flower_refuses_requests_without_valid_credentials(lab: FaultLab, flower: str) -> None:
    for path in FLOWER_PRIVATE:
        anonymous = requests.get(flower + path, timeout=10)
        wrong = requests.get(flower + path, auth=("ops", "guess"), timeout=10)
        assert anonymous.status_code == 401, (path, anonymous.status_code)
        assert wrong.status_code == 401, (path, wrong.status_code)
    assert requests.get(flower + "/", auth=FLOWER_AUTH, timeout=10).status_code == 200
    for path in FLOWER_OPEN:
        assert requests.get(flower + path, timeout=10).status_code == 200, path
    assert _listening_addresses(lab.stack.processes["flower"].pid) == {"127.0.0.1"}
