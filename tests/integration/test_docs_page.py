"""/docs keeps an entered key in memory only and runs under a strict Content-Security-Policy
that its own page and assets satisfy (no inline script, nothing from another origin)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from api import docs
from tessera import extras

pytestmark = pytest.mark.integration


def test_swagger_ui_does_not_persist_the_key_in_local_storage(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"></script>', page)
    start = "".join(client.get("/" + src).get_data(as_text=True) for src in scripts[-1:])

    assert "persistAuthorization: false" in start
    assert "persistAuthorization: true" not in page + start


def test_the_docs_page_has_a_strict_csp_and_needs_no_inline_script(client: FlaskClient) -> None:
    page = client.get("/docs")
    directives = (
        part.strip().partition(" ") for part in page.headers["Content-Security-Policy"].split(";")
    )
    policy = {name: value for name, _, value in directives}
    html = page.get_data(as_text=True)

    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "<script>" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # every script is a file ...
    assert not re.search(r"\son[a-z]+=", html)  # ... and no inline handler
    for src in re.findall(r'src="([^"]+)"', html):
        assert not src.startswith(("http:", "https:", "//", "data:")), src
        assert client.get("/" + src).status_code == 200


def test_without_the_docs_extra_the_page_says_which_extra_and_the_document_is_still_served(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(module: str) -> object:
        raise extras.MissingExtra(extras.message(module))

    monkeypatch.setattr(docs.extras, "require", missing)

    page = client.get("/docs")
    assert page.status_code == 404
    assert "tessera[docs]" in page.get_json()["detail"]
    assert client.get("/openapi.json").status_code == 200
