"""The operator console's files as the API serves them: no key needed, never rate-limited, a
strict Content-Security-Policy on every answer, only the package's own files, nothing loaded from
elsewhere, and no markup built from strings (the browser tests in tests/browser drive the page).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers

from api.console import CONSOLE_DIR
from models.domain.settings import SETTINGS
from tessera.config import Settings
from tests.integration.conftest import CLIENT, AppFactory

pytestmark = pytest.mark.integration

SOURCES = sorted(p for p in CONSOLE_DIR.rglob("*") if p.is_file())
SCRIPTS = [p for p in SOURCES if p.suffix == ".js"]


def csp(headers: Headers) -> dict[str, str]:
    header = headers.get("Content-Security-Policy", "")
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {parts[0]: parts[1] if len(parts) > 1 else "" for parts in directives}


def test_the_console_page_is_served_without_a_key(client: FlaskClient) -> None:
    page = client.get("/console")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "Tessera console" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"].startswith("no-cache")


def test_the_console_sends_a_strict_content_security_policy(client: FlaskClient) -> None:
    for path in ("/console", "/console/js/main.js", "/console/no-such-file.js"):
        response = client.get(path)
        policy = csp(response.headers)
        assert policy["default-src"] == "'none'", path
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert policy["connect-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["object-src"] == "'none'", path
        assert policy["base-uri"] == "'none'", path
        assert policy["require-trusted-types-for"] == "'script'", path
        assert not any("unsafe" in value for value in policy.values()), (path, policy)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()


def test_every_file_the_page_loads_is_served_from_the_package(client: FlaskClient) -> None:
    page = client.get("/console").get_data(as_text=True)
    loaded = re.findall(r'(?:src|href)="([^"#]+)"', page)
    imports = [
        "console/js/" + name
        for script in SCRIPTS
        for name in re.findall(r'from "\./([\w.-]+\.js)"', script.read_text())
    ]
    assert "console/js/main.js" in loaded
    for source in {*loaded, *imports}:
        assert not source.startswith(("http:", "https:", "//")), source
        asset = client.get("/" + source)
        assert asset.status_code == 200, source
        if source.endswith(".js"):
            assert "javascript" in asset.mimetype, (source, asset.mimetype)
        asset.close()


@pytest.mark.parametrize(
    "path",
    [
        "/console/../app.py",
        "/console/..%2fapp.py",
        "/console/%2e%2e/console.py",
        "/console/../../pyproject.toml",
        "/console/js/../../console.py",
    ],
)
def test_only_the_consoles_own_files_are_served(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert b"import" not in response.data


def test_console_slash_leads_to_the_page(client: FlaskClient) -> None:
    response = client.get("/console/")

    assert response.status_code == 308
    assert response.headers["Location"].endswith("/console")


def test_the_console_is_never_rate_limited_but_its_api_calls_are(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(dataclasses.replace(settings, rate_limit="1/minute")).test_client()

    assert [client.get("/console").status_code for _ in range(3)] == [200] * 3
    assert [client.get("/console/js/api.js").status_code for _ in range(3)] == [200] * 3
    assert [client.get("/events", headers=CLIENT).status_code for _ in range(2)] == [200, 429]


def test_the_page_needs_no_key_but_everything_it_reads_does(client: FlaskClient) -> None:
    assert client.get("/console").status_code == 200
    assert client.get("/events").status_code == 401


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(CONSOLE_DIR)))
def test_no_console_file_names_another_origin(source: Path) -> None:
    text = source.read_text()
    # The SVG namespace is a name, not a place the page loads anything from.
    text = text.replace("http://www.w3.org/2000/svg", "")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), source


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_builds_markup_from_strings(script: Path) -> None:
    # Values from the API are user input: they are only ever set as text (the CSP's Trusted
    # Types would make these throw anyway; this says so before a browser does).
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
    )

    assert not sinks.search(script.read_text()), script


def test_the_settings_form_reads_its_fields_from_the_settings_declaration(
    client: FlaskClient,
) -> None:
    response = client.get("/console/settings.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    fields = response.get_json()
    # the settings a request may set (the draw's commitment and time are the server's)
    assert [f["name"] for f in fields] == [s.json for s in SETTINGS if s.settable]
    by_name = {f["name"]: f for f in fields}
    assert by_name["waitlistPolicy"]["choices"] == ["strict", "fill"]
    assert by_name["offerTtlSeconds"]["kind"] == "integer"
    assert by_name["registrationOpensAt"]["kind"] == "time"
    assert by_name["waitlistEnabled"]["kind"] == "boolean"
