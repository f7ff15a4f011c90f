"""End-to-end fixtures: the real stack (gunicorn API, Celery worker processes, beat) as
subprocesses on free ports, against the session's PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tessera.tools.servers import ServerUrls
from tests.attendee_tokens import AUDIENCE, ISSUER, SigningKey, ed_key, write_jwks
from tests.localstack import LocalStack

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
CLIENT_KEY = "e2e-client-key-0123456789abcdef"


class Api:
    """A thin HTTP client for the contract, one `requests.Session` per instance."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=40, **kwargs)

    def create_user(self, user_id: str) -> None:
        response = self.call("POST", "/users", json={"userId": user_id, "name": user_id.title()})
        assert response.status_code == 201, response.text

    def create_event(self, event_id: str, capacity: int, waitlist: bool = True) -> None:
        body = {
            "eventId": event_id,
            "title": "Launch",
            "description": "",
            "date": "2026-12-01",
            "location": "Hall A",
            "capacity": capacity,
            "organizer": "Tessera",
            "status": "active",
            "waitlistEnabled": waitlist,
        }
        response = self.call("POST", "/events", json=body)
        assert response.status_code == 201, response.text

    def register(self, event_id: str, user_id: str) -> dict[str, Any]:
        response = self.call("POST", f"/events/{event_id}/registrations", json={"userId": user_id})
        assert response.status_code == 202, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    def unregister(self, event_id: str, user_id: str) -> dict[str, Any]:
        response = self.call("DELETE", f"/events/{event_id}/registrations/{user_id}")
        assert response.status_code == 202, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    def outcome(self, ticket: dict[str, Any], wait: float = 20) -> dict[str, Any]:
        """Long-poll the ticket until it is no longer pending."""
        response = self.call("GET", f"/tickets/{ticket['ticketId']}", params={"wait": wait})
        assert response.status_code == 200, response.text
        done: dict[str, Any] = response.json()
        assert done["status"] == "completed", done
        return done


@pytest.fixture(scope="session")
def attendee_signer() -> SigningKey:
    """The identity provider's key: the stack accepts attendee tokens it signs."""
    return ed_key("e2e-provider")


@pytest.fixture(scope="session")
def stack(
    server_urls: ServerUrls,
    tmp_path_factory: pytest.TempPathFactory,
    attendee_signer: SigningKey,
) -> Iterator[LocalStack]:
    data_dir = tmp_path_factory.mktemp("stack")
    running = LocalStack(
        server_urls,
        data_dir,
        env={
            "TESSERA_API_KEYS": f"{ADMIN_KEY}:admin,{CLIENT_KEY}:client",
            "TESSERA_RATE_LIMIT": "off",
            "TESSERA_JWT_ISSUER": ISSUER,
            "TESSERA_JWT_AUDIENCE": AUDIENCE,
            "TESSERA_JWT_JWKS_URL": write_jwks(data_dir / "jwks.json", attendee_signer),
        },
    )
    try:
        running.start(workers=2)
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def admin(stack: LocalStack, db: object) -> Api:
    """An admin client over a wiped database (`db` empties the schema first)."""
    return Api(stack.base_url, ADMIN_KEY)


@pytest.fixture
def client(stack: LocalStack, db: object) -> Api:
    return Api(stack.base_url, CLIENT_KEY)
