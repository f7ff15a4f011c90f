"""The console signed in with an attendee token (a real JWT, checked by the real stack against
a JWKS file written for the session): the role is found by asking the API, the attendee sees
events, its own standing and its own tickets, registers, accepts its own offer, and the page
never calls a route the API would refuse it (the API's request log shows no 403 but the one
sign-in question)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.attendee_tokens import SigningKey, claims
from tests.browser.conftest import missing_browser
from tests.browser.test_console import (
    create_user,
    csp_violations,
    open_console,
    shows,
    sign_in,
    text_of,
)
from tests.e2e.conftest import Api
from tests.localstack import LocalStack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]

# The one refusal the console asks for: whether the credential may read a roster.
ROLE_PROBE = "/events/console-role-probe/registrations"
# What the board of a key starts, and an attendee may not read.
ADMIN_PANELS = ("line", "offers", "feed", "ledger", "settings", "settling", "stream-state")


def create_offer_event(api: Api, event_id: str, capacity: int) -> None:
    body = {
        "eventId": event_id,
        "title": "Meetup",
        "description": "",
        "date": "2026-12-01",
        "location": "Hall B",
        "capacity": capacity,
        "organizer": "Tessera",
        "status": "active",
        "waitlistEnabled": True,
        "promotion": "offer",
    }
    response = api.call("POST", "/events", json=body)
    assert response.status_code == 201, response.text


def requests_since(log: Path, offset: int) -> list[dict[str, Any]]:
    """The API's request log lines written after `offset`."""
    lines = log.read_bytes()[offset:].decode(errors="replace").splitlines()
    found = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # gunicorn's own lines
        if isinstance(entry, dict) and entry.get("msg") == "request":
            found.append(entry)
    return found


def wait(browser: WebDriver, seconds: float = 10) -> WebDriverWait[WebDriver]:
    """A wait that looks again when the page redrew what it was reading."""
    return WebDriverWait(
        browser, seconds, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException]
    )


def click(browser: WebDriver, element_id: str) -> None:
    def clicked(b: WebDriver) -> bool:
        button = b.find_element(By.ID, element_id)
        if not button.is_enabled():
            return False
        button.click()
        return True

    wait(browser).until(clicked)


def test_an_attendee_signs_in_with_a_token_registers_and_accepts_its_own_offer(
    browser: WebDriver, admin: Api, stack: LocalStack, attendee_signer: SigningKey
) -> None:
    create_offer_event(admin, "meetup", capacity=1)
    create_user(admin, "amy", "Amy Attendee")
    create_user(admin, "ben", "Ben")
    admin.outcome(admin.register("meetup", "ben"))  # ben holds the only seat
    token = attendee_signer.sign(claims("amy"))
    log = stack.log_path("api")
    offset = log.stat().st_size

    open_console(browser, stack)
    sign_in(browser, token)
    assert text_of(browser, "role") == "attendee amy"
    assert browser.find_element(By.CSS_SELECTOR, 'a[href="#/mine"]').is_displayed()

    # The events list, then the event's page: its public view and amy's own standing.
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, 'a[href="#/events/meetup"]'))
    browser.find_element(By.CSS_SELECTOR, 'a[href="#/events/meetup"]').click()
    wait(browser).until(shows("own-standing", "You are not registered for this event."))
    assert text_of(browser, "fig-taken") == "1"
    assert text_of(browser, "board-title") == "Meetup"

    click(browser, "register")
    wait(browser, 30).until(shows("command-outcome", "waitlisted, position 1"))
    wait(browser).until(shows("own-standing", "You are waiting in line: position 1."))

    # ben leaves: the seat is offered to amy, whose page sees it at its next poll.
    admin.outcome(admin.unregister("meetup", "ben"))
    wait(browser, 15).until(
        lambda b: b.find_element(By.ID, "own-standing").get_attribute("data-status") == "offered"
    )
    assert text_of(browser, "own-standing").startswith("Seats are offered to you until ")
    click(browser, "accept-offer")
    wait(browser, 30).until(shows("command-outcome", "registered"))
    wait(browser).until(shows("own-standing", "You have a seat."))
    for panel in ADMIN_PANELS:
        assert browser.find_elements(By.ID, panel) == [], panel

    # Its own places and the tickets its commands created in this tab.
    browser.find_element(By.CSS_SELECTOR, 'a[href="#/mine"]').click()
    wait(browser).until(lambda b: b.find_elements(By.ID, "tickets-table"))
    wait(browser).until(lambda b: b.find_elements(By.ID, "places-table"))
    places = text_of(browser, "places-table")
    assert "Meetup" in places
    assert "seated" in places
    tickets = text_of(browser, "tickets-table")
    assert "accept_offer" in tickets
    assert "register" in tickets
    assert "waitlisted" in tickets

    # The page asked the API once what the token may not do, and never called a route the
    # API refuses an attendee.
    refused = [
        (entry["method"], entry["path"])
        for entry in requests_since(log, offset)
        if entry.get("status") == 403
    ]
    assert refused == [("GET", ROLE_PROBE)]
    assert csp_violations(browser) == []


def test_the_token_reader_offers_the_users_claims_and_refuses_what_is_not_a_token(
    browser: WebDriver, stack: LocalStack
) -> None:
    open_console(browser, stack)
    found = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        import(new URL("console/js/principal.js", document.baseURI).href).then((p) => {
          const part = (object) =>
            btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(object))))
              .replace(/=+$/, "").replace(/\\+/g, "-").replace(/\\//g, "_");
          const token = (claims) => `${part({ alg: "EdDSA" })}.${part(claims)}.sig`;
          done({
            sub: p.tokenClaims(token({ sub: "ann", name: "Ann Å" })),
            candidates: p.userCandidates({
              iss: "issuer", aud: "tessera", jti: "abc", email: "a@b.c",
              uid: "ann-2", sub: "ann", name: "not an id",
            }),
            key: p.tokenClaims("tsk_abcdefghijklmnopqrstuvwxyz012345"),
            twoParts: p.tokenClaims("abc.def"),
            notJson: p.tokenClaims("abc.def.ghi"),
          });
        }, (error) => done(String(error)));
        """
    )
    assert found == {
        "sub": {"sub": "ann", "name": "Ann Å"},
        "candidates": ["ann", "ann-2"],
        "key": None,
        "twoParts": None,
        "notJson": None,
    }


def test_a_token_the_api_refuses_is_not_signed_in(
    browser: WebDriver, stack: LocalStack, attendee_signer: SigningKey
) -> None:
    expired = attendee_signer.sign(claims("ann", exp=1, iat=0))
    open_console(browser, stack)
    browser.find_element(By.ID, "api-key").send_keys(expired + "\n")
    wait(browser).until(lambda b: b.find_element(By.ID, "sign-in-alert").is_displayed())
    assert text_of(browser, "sign-in-alert") == "The API refused this key or token (401)."
    assert browser.execute_script("return sessionStorage.length") == 0
