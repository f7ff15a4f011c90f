"""An attendee, signed in with its identity provider's token, registers itself over HTTP and
reads its ticket's result, applied by a real worker."""

from __future__ import annotations

import pytest

from tests.attendee_tokens import SigningKey, claims
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e


def test_an_attendee_registers_itself_and_reads_its_ticket_result(
    admin: Api, attendee_signer: SigningKey
) -> None:
    admin.create_user("ann")
    admin.create_user("bob")
    admin.create_event("launch", capacity=1)
    ann = Api(admin.base_url, attendee_signer.sign(claims("ann")))

    accepted = ann.call("POST", "/events/launch/registrations", json={})
    assert accepted.status_code == 202, accepted.text
    done = ann.outcome(accepted.json())

    assert done["userId"] == "ann"
    assert done["result"]["status"] == "registered"
    standing = ann.call("GET", "/events/launch/registrations/ann")
    assert standing.json()["status"] == "registered"
    assert ann.call("DELETE", "/events/launch/registrations/bob").status_code == 403
    assert ann.call("GET", "/events/launch/registrations").status_code == 403
