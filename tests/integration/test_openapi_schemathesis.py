"""The OpenAPI document describes the whole contract, and the app keeps to it: Schemathesis
generates requests from the app's own /openapi.json (valid and invalid ones) and checks every
answer against the document with all of its checks.

Left out of the fuzzing: `GET /events/{eventId}/updates` (a stream that never ends by itself).
`GET /tickets/{ticketId}?wait=` is included: a ticket id drawn at random names no ticket, so it
answers 404 at once instead of waiting.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from api import openapi
from tests.integration.conftest import ADMIN_KEY

pytestmark = pytest.mark.integration

# Every operation the contract names (CONTRACT.md), as method and OpenAPI path.
CONTRACT_OPERATIONS = {
    ("post", "/users"),
    ("get", "/users/{userId}"),
    ("put", "/users/{userId}"),
    ("delete", "/users/{userId}"),
    ("get", "/users/{userId}/registrations"),
    ("get", "/users/{userId}/waitlists"),
    ("get", "/events/{eventId}/offers"),
    ("post", "/events/{eventId}/offers/{userId}/accept"),
    ("post", "/events/{eventId}/offers/{userId}/decline"),
    ("get", "/users/{userId}/offers"),
    ("get", "/events/{eventId}/ledger"),
    ("post", "/events"),
    ("get", "/events"),
    ("get", "/events/{eventId}"),
    ("put", "/events/{eventId}"),
    ("delete", "/events/{eventId}"),
    ("get", "/events/{eventId}/registrations"),
    ("get", "/events/{eventId}/waitlist"),
    ("get", "/events/{eventId}/registrations/{userId}"),
    ("post", "/events/{eventId}/registrations"),
    ("delete", "/events/{eventId}/registrations/{userId}"),
    ("get", "/tickets/{ticketId}"),
    ("post", "/batches"),
    ("get", "/batches/{batchId}"),
    ("get", "/events/{eventId}/updates"),
    ("get", "/health"),
    ("get", "/live"),
    ("get", "/ready"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("post", "/keys"),
    ("get", "/keys"),
    ("delete", "/keys/{keyId}"),
    ("post", "/webhooks"),
    ("get", "/webhooks"),
    ("get", "/webhooks/{webhookId}"),
    ("delete", "/webhooks/{webhookId}"),
    ("get", "/webhooks/{webhookId}/deliveries"),
    ("post", "/webhooks/{webhookId}/deliveries/{deliveryId}/retry"),
}
# Beyond the contract's table: a batch's tickets page by page, Prometheus metrics, and the
# operator console's page.
EXTRA_OPERATIONS = {
    ("get", "/batches/{batchId}/tickets"),
    ("get", "/metrics"),
    ("get", "/console"),
}

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_document_is_openapi_3_1_and_describes_every_operation_of_the_contract(
    document: dict[str, Any],
) -> None:
    assert document["openapi"] == "3.1.0"
    assert set(operations(document)) == CONTRACT_OPERATIONS | EXTRA_OPERATIONS


def test_every_error_is_described_as_problem_json_with_the_contracts_codes(
    document: dict[str, Any],
) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "requestId"}
    assert "RATE_LIMITED" in problem["properties"]["code"]["enum"]
    for (method, path), operation in operations(document).items():
        for status, response in operation["responses"].items():
            assert "X-Request-ID" in response["headers"], (method, path, status)
            # /health's 503 is its own report ({status, checks}), as the contract says.
            if int(status) >= 400 and (path, status) != ("/health", "503"):
                assert list(response["content"]) == ["application/problem+json"], (method, path)


def test_only_the_probes_and_docs_are_public_and_every_other_call_can_be_401(
    document: dict[str, Any],
) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    public = {key for key, op in operations(document).items() if op.get("security") == []}
    assert public == {
        ("get", "/health"),
        ("get", "/live"),
        ("get", "/ready"),
        ("get", "/openapi.json"),
        ("get", "/docs"),
        ("get", "/console"),
    }
    for key, operation in operations(document).items():
        if key not in public:
            assert "401" in operation["responses"], key
            assert "429" in operation["responses"], key


def test_the_commands_carry_idempotency_keys_and_say_when_an_answer_is_a_replay(
    document: dict[str, Any],
) -> None:
    ops = operations(document)
    for key in [
        ("post", "/events/{eventId}/registrations"),
        ("delete", "/events/{eventId}/registrations/{userId}"),
        ("post", "/batches"),
    ]:
        names = [p["name"] for p in ops[key].get("parameters", [])]
        assert "Idempotency-Key" in names, key
        assert "Idempotent-Replayed" in ops[key]["responses"]["202"]["headers"], key
        assert "Location" in ops[key]["responses"]["202"]["headers"], key


def test_the_event_stream_is_described_as_server_sent_events(document: dict[str, Any]) -> None:
    operation = operations(document)[("get", "/events/{eventId}/updates")]
    assert list(operation["responses"]["200"]["content"]) == ["text/event-stream"]
    assert "Last-Event-ID" in [p["name"] for p in operation["parameters"]]


def test_the_admin_operations_say_they_can_be_forbidden(document: dict[str, Any]) -> None:
    # Since attendee tokens, every operation that needs a credential can be 403 (an attendee
    # may make only a few calls, for itself); those forbidden to client keys too say so.
    ops = operations(document)
    guarded = {key for key, op in ops.items() if op.get("security") != []}
    assert guarded == {key for key, op in ops.items() if "403" in op["responses"]}
    admin = {
        key
        for key, op in ops.items()
        if "403" in op["responses"]
        and op["responses"]["403"]["description"] == "FORBIDDEN: this needs an admin key."
    }
    assert admin == {
        ("post", "/keys"),
        ("get", "/keys"),
        ("delete", "/keys/{keyId}"),
        ("post", "/users"),
        ("put", "/users/{userId}"),
        ("delete", "/users/{userId}"),
        ("post", "/events"),
        ("put", "/events/{eventId}"),
        ("delete", "/events/{eventId}"),
        ("post", "/webhooks"),
        ("get", "/webhooks"),
        ("get", "/webhooks/{webhookId}"),
        ("delete", "/webhooks/{webhookId}"),
        ("get", "/webhooks/{webhookId}/deliveries"),
        ("post", "/webhooks/{webhookId}/deliveries/{deliveryId}/retry"),
    }


def test_swagger_ui_is_served_from_local_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert sources
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
        asset = client.get("/" + source.lstrip("/"))
        assert asset.status_code == 200, source
        asset.close()
    assert client.get("/docs/index.html").status_code == 404  # only the page's own assets


# --- fuzzing ----------------------------------------------------------------------------


def test_the_served_document_is_the_one_generated_from_the_schemas(
    document: dict[str, Any],
) -> None:
    assert document == json.loads(json.dumps(openapi.build()))


# The document is generated from code alone, so Schemathesis can load it at collection time and
# parametrize one test per operation; each test then calls the fixture's app through WSGI.
# (schemathesis.pytest.from_fixture, the lazy alternative, does not work with pytest 9.)
# The admin key is given as the document's bearer scheme, not as a header of every call, so
# Schemathesis can also send requests without it (and expect 401).
# The rest of the configuration is shared with the full run of `make faults`: with it, a valid
# request is answered as the document says without any adjustment of the generated requests.
SHARED_CONFIG = Path(__file__).parents[1] / "faults" / "schemathesis.toml"
CONFIG = SchemathesisConfig.from_dict(
    {
        **tomllib.loads(SHARED_CONFIG.read_text()),
        "auth": {"openapi": {"bearerAuth": {"bearer": ADMIN_KEY}}},
    }
)
schema = schemathesis.openapi.from_dict(openapi.build(), config=CONFIG).exclude(
    path="/events/{eventId}/updates"
)


def routed(app: Flask, method: str, path: str) -> bool:
    """Whether the app has a route for the operation (the commands' routes are another
    module's, and may not all be registered yet)."""
    shape = re.sub(r"\{\w+\}", "<>", path)
    return any(
        re.sub(r"<[^>]+>", "<>", rule.rule) == shape and method.upper() in (rule.methods or ())
        for rule in app.url_map.iter_rules()
    )


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples each run: a failure here is a finding, not noise
)
def test_every_operation_answers_as_the_document_says(case: schemathesis.Case, app: Flask) -> None:
    if not routed(app, case.operation.method, case.operation.path):
        pytest.skip(f"{case.operation.label} is not routed in this app yet")
    # Through the schema as well as the call: checks that send probes of their own (e.g.
    # without the key, for `ignored_auth`) use the schema's transport.
    case.operation.schema.app = app
    case.call_and_validate(app=app)
