"""Liveness, readiness and health against servers that are up, and servers that are not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tessera.config import Settings
from tessera.tools.servers import free_port
from tests.integration.conftest import AppFactory

pytestmark = pytest.mark.integration


def client_with(api_app: AppFactory, settings: Settings, **changes: str) -> FlaskClient:
    return api_app(Settings(**{**settings.__dict__, **changes})).test_client()


def dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def dead_postgres() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/tessera"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: a hung server, not a dead one."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_live_answers_200_while_the_process_runs(client: FlaskClient) -> None:
    response = client.get("/live")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_ready_answers_200_when_postgres_and_redis_answer(client: FlaskClient) -> None:
    response = client.get("/ready")
    assert (response.status_code, response.get_json()) == (200, {"status": "ready"})


def test_health_reports_each_server_with_its_latency(client: FlaskClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert 0 <= check["latencyMs"] < 1500


def test_health_says_an_embedded_single_server_cannot_survive_a_failover(
    client: FlaskClient,
) -> None:
    body = client.get("/health").get_json()

    assert body["status"] == "ok"  # a single server is a choice, not a failure
    assert body["durability"] == {
        "guaranteed": False,
        "mode": "single",
        "detail": "single server: no failover",
    }


def test_with_redis_down_ready_is_503_not_ready_and_health_says_which(
    api_app: AppFactory, settings: Settings
) -> None:
    client = client_with(api_app, settings, redis_url=dead_redis())

    ready = client.get("/ready")
    health = client.get("/health")

    assert ready.status_code == 503
    assert ready.mimetype == "application/problem+json"
    assert ready.get_json()["code"] == "NOT_READY"
    assert "redis" in ready.get_json()["detail"]
    assert health.status_code == 503
    checks = health.get_json()["checks"]
    assert (health.get_json()["status"], checks["postgres"]["ok"], checks["redis"]["ok"]) == (
        "unavailable",
        True,
        False,
    )
    assert client.get("/live").status_code == 200


def test_with_postgres_down_ready_is_503_and_health_says_which(
    api_app: AppFactory, settings: Settings
) -> None:
    client = client_with(api_app, settings, database_url=dead_postgres())

    assert client.get("/ready").status_code == 503
    body = client.get("/health").get_json()
    assert (body["checks"]["postgres"]["ok"], body["checks"]["redis"]["ok"]) == (False, True)
    assert body["durability"] is None


def test_a_hung_server_makes_the_probe_fail_in_seconds_not_hang(
    api_app: AppFactory, settings: Settings, silent_server: int
) -> None:
    client = client_with(api_app, settings, redis_url=f"redis://127.0.0.1:{silent_server}/0")

    started = time.monotonic()
    response = client.get("/ready")

    assert response.status_code == 503
    assert time.monotonic() - started < 3.0


def test_probes_need_no_key_even_with_auth_on(client: FlaskClient) -> None:
    for path in ["/live", "/ready", "/health"]:
        assert client.get(path).status_code == 200
