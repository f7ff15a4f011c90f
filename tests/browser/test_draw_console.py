"""The console's Draw panel (#24) in headless Chromium: the commitment, the countdown and the
pre-queue before the opening; after the draw the drawn order with each key, and a "verify"
button that recomputes keys and order in the browser and agrees with Python's."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from models.domain.results import rfc3339
from tests.browser.test_console import (
    create_user,
    csp_violations,
    open_board,
    open_console,
    sign_in,
    text_of,
    wait,
)
from tests.e2e.conftest import ADMIN_KEY, Api
from tests.localstack import LocalStack

pytestmark = pytest.mark.e2e

USERS = ("dr-ann", "dr-bob", "dr-cy", "dr-dee")
LEAD_SECONDS = 6


def test_the_draw_panel_counts_down_then_shows_and_verifies_the_drawn_order(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    for user_id in USERS:
        create_user(admin, user_id, user_id.title())
    now = dt.datetime.now(dt.UTC)
    made = admin.call("POST", "/events", json={
        "eventId": "draw-panel", "title": "Draw panel", "description": "", "date": "2027-01-01",
        "location": "Arena", "capacity": 2, "organizer": "Tessera", "status": "active",
        "waitlistEnabled": True, "opening": "draw",
        "prequeueOpensAt": rfc3339(now - dt.timedelta(seconds=1)),
        "registrationOpensAt": rfc3339(now + dt.timedelta(seconds=LEAD_SECONDS)),
    })  # fmt: skip
    assert made.status_code == 201, made.text
    commitment = made.json()["drawCommitment"]
    for user_id in USERS:
        assert admin.outcome(admin.register("draw-panel", user_id))["result"]["status"] == (
            "prequeued"
        )

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "draw-panel")
    wait(browser).until(lambda b: text_of(b, "draw-prequeue") == "Pre-queue: 4 parties.")
    assert text_of(browser, "draw-commitment").endswith(commitment)
    assert text_of(browser, "draw-countdown").startswith("Draw in ")
    assert not browser.find_element(By.ID, "draw-verify").is_displayed()

    # The draw (beat wakes the applier); the panel follows it from the stream and the ledger.
    wait(browser, LEAD_SECONDS + 15).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#draw-table tbody tr")) == len(USERS)
    )
    assert text_of(browser, "draw-prequeue").startswith("Drawn at ")
    entries = admin.call("GET", "/events/draw-panel/ledger").json()["items"]
    (draw,) = [e for e in entries if e["kind"] == "draw"]
    drawn = draw["outcome"]["drawn"]
    rows = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, "#draw-table tbody tr")
    ]
    assert rows == [[str(i + 1), p["userId"], p["status"], p["key"]] for i, p in enumerate(drawn)]
    # what the browser is about to check, checked here in Python too
    seed, closing = (
        bytes.fromhex(draw["outcome"]["seed"]),
        bytes.fromhex(draw["outcome"]["closingHash"]),
    )
    assert hashlib.sha256(seed).hexdigest() == commitment
    assert [p["key"] for p in drawn] == sorted(
        hashlib.sha256(seed + closing + p["userId"].encode()).hexdigest() for p in drawn
    )

    browser.find_element(By.ID, "draw-verify").click()
    wait(browser).until(lambda b: text_of(b, "draw-verdict").startswith("Draw verified"))
    assert browser.find_element(By.ID, "draw-verdict").get_attribute("data-state") == "verified"
    assert "4 parties" in text_of(browser, "draw-verdict")
    assert text_of(browser, "draw-countdown") == ""

    # The same check catches a key that does not follow, and a seed that is not the one
    # committed to.
    tampered = [{**p, "key": p["key"]} for p in drawn]
    tampered[1]["key"] = "0" * 64
    verdicts = browser.execute_async_script(
        """
        const [outcome, tampered, commitment, done] = arguments;
        import(new URL("console/js/draw.js", document.baseURI).href).then(async (d) => done([
          await d.verifyDraw({...outcome, drawn: tampered}, commitment),
          await d.verifyDraw(outcome, "f".repeat(64)),
        ]));
        """,
        draw["outcome"],
        tampered,
        commitment,
    )
    assert verdicts[0] == {
        "ok": False,
        "reason": f"party 2 ({drawn[1]['userId']}): its key does not follow",
    }
    assert verdicts[1] == {
        "ok": False,
        "reason": "the seed's SHA-256 is not the published commitment",
    }
    assert csp_violations(browser) == []


def test_an_event_without_a_draw_has_no_draw_panel(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    made = admin.call("POST", "/events", json={
        "eventId": "no-draw", "title": "No draw", "description": "", "date": "2027-01-01",
        "location": "Hall", "capacity": 2, "organizer": "Tessera", "status": "active",
        "waitlistEnabled": True,
    })  # fmt: skip
    assert made.status_code == 201, made.text
    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "no-draw")
    wait(browser).until(lambda b: text_of(b, "board-title") == "No draw")
    assert not browser.find_element(By.ID, "draw").is_displayed()
