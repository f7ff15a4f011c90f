"""Ledger pages over HTTP carry an ETag of their bytes: a page that is full never changes, so a
verifier walking the ledger again sends `If-None-Match` and gets 304 with no body; a page that
is still filling changes its tag as entries arrive."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.drain import drain_event
from tests.integration.conftest import CLIENT, create_event, create_users
from tests.integration.test_api_offers import register
from workers import runtime

pytestmark = pytest.mark.integration


def test_a_full_ledger_page_is_answered_304_for_its_etag(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann", "bob", "cy")
    create_event(client, capacity=5)
    for user in ("ann", "bob", "cy"):
        register(client, user)
    drain_event(worker, "e1")

    first = client.get("/events/e1/ledger?limit=2", headers=CLIENT)
    assert first.status_code == 200
    assert first.get_json()["nextAfter"] == 2
    etag = first.headers["ETag"]
    assert re.fullmatch('"[0-9a-f]{32}"', etag)

    again = client.get("/events/e1/ledger?limit=2", headers={**CLIENT, "If-None-Match": etag})
    assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", etag)
    weak_or_listed = client.get(
        "/events/e1/ledger?limit=2", headers={**CLIENT, "If-None-Match": f'"x", W/{etag}'}
    )
    assert weak_or_listed.status_code == 304

    other = client.get(
        "/events/e1/ledger?after=2&limit=2", headers={**CLIENT, "If-None-Match": etag}
    )
    assert other.status_code == 200
    assert other.headers["ETag"] != etag


def test_a_page_still_filling_gets_a_new_etag_when_an_entry_arrives(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann")
    create_event(client, capacity=5)
    before = client.get("/events/e1/ledger", headers=CLIENT)
    register(client, "ann")
    drain_event(worker, "e1")

    after = client.get(
        "/events/e1/ledger", headers={**CLIENT, "If-None-Match": before.headers["ETag"]}
    )

    assert after.status_code == 200
    assert len(after.get_json()["items"]) == len(before.get_json()["items"]) + 1
    assert after.headers["ETag"] != before.headers["ETag"]
