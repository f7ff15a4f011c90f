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
from api.app import route_table
from api.routes import Access, Attendee
from tests.integration.conftest import ADMIN_KEY

pytestmark = pytest.mark.integration

# The document's operations, roles included, come from the route table; the table's own test
# (test_route_table.py) lists every operation with its role, so a change there is a visible diff.
TABLE = route_table()
DOCUMENTED = [op for op in TABLE.operations if op.documented]


def declared(*levels: Access) -> set[tuple[str, str]]:
    return {(op.method.lower(), op.path) for op in DOCUMENTED if op.access in levels}


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


def test_the_document_is_openapi_3_1_and_describes_every_declared_operation(
    document: dict[str, Any],
) -> None:
    assert document["openapi"] == "3.1.0"
    assert set(operations(document)) == declared(*Access)
    assert {op["operationId"] for op in operations(document).values()} == {
        op.operation_id for op in DOCUMENTED
    }


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
    assert public == declared(Access.PUBLIC)
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
    # Admin operations say so; the others that can be 403 are those an attendee token may
    # not make at all, or only for its own user.
    ops = operations(document)
    admin = {
        key
        for key, op in ops.items()
        if "403" in op["responses"]
        and op["responses"]["403"]["description"] == "FORBIDDEN: this needs an admin key."
    }
    assert admin == declared(Access.ADMIN)
    for key in admin:
        assert "Needs an admin key." in ops[key]["description"], key
    attendee_any = {
        (op.method.lower(), op.path)
        for op in DOCUMENTED
        if op.access is Access.CLIENT and op.attendee is Attendee.ANY
    }
    forbidden = {key for key, op in ops.items() if "403" in op["responses"]}
    assert forbidden == declared(Access.ADMIN, Access.CLIENT) - attendee_any


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
    assert document == json.loads(json.dumps(openapi.build(TABLE.operations)))


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
schema = schemathesis.openapi.from_dict(openapi.build(TABLE.operations), config=CONFIG).exclude(
    path="/events/{eventId}/updates"
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples each run: a failure here is a finding, not noise
)
def test_every_operation_answers_as_the_document_says(case: schemathesis.Case, app: Flask) -> None:
    # Through the schema as well as the call: checks that send probes of their own (e.g.
    # without the key, for `ignored_auth`) use the schema's transport.
    case.operation.schema.app = app
    case.call_and_validate(app=app)
