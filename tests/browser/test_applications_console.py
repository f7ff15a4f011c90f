"""The console's Applications panel (issue #23) in a real headless Chromium against the real
stack: an admin sees the pending applications in acceptance order, approves and rejects from
the panel, sees each decision's ticket result, and sees an approved applicant take the place
its application gave it in the line; a client key's board has no such panel.

With `UPDATE_SCREENSHOTS=1` the panel's screenshot is written to docs/img/ for the README.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.browser.conftest import missing_browser
from tests.browser.test_console import (
    create_user,
    csp_violations,
    open_board,
    open_console,
    screenshot,
    shows,
    sign_in,
    text_of,
    wait,
)
from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY, Api
from tests.localstack import LocalStack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]

EVENT = "masterclass"
APPLICANTS = [
    ("ap-ada", "Ada Lovelace"),
    ("ap-bob", "Bob Kahn"),
    ("ap-cyd", "Cyd Charisse"),
    ("ap-dee", "Dee Hock"),
]


def create_approval_event(api: Api, capacity: int) -> None:
    body = {
        "eventId": EVENT,
        "title": "Masterclass",
        "description": "",
        "date": "2027-03-01",
        "location": "Studio 2",
        "capacity": capacity,
        "organizer": "Tessera",
        "status": "active",
        "waitlistEnabled": True,
        "admission": "approval",
    }
    response = api.call("POST", "/events", json=body)
    assert response.status_code == 201, response.text


# Read in one script run: the board redraws its tables as the stream arrives, and a reference
# to an element taken before a redraw would be stale by the time it is read.
def pending_rows(browser: WebDriver) -> list[str]:
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#applications-table tbody tr')]"
        ".map((row) => row.dataset.userId)"
    )
    return list(rows)


def line_users(browser: WebDriver) -> list[str]:
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#line-table tbody td.user code')]"
        ".map((cell) => cell.textContent)"
    )
    return list(cells)


def outcome_of(browser: WebDriver, user_id: str) -> str:
    """The settled outcome the panel's decisions list shows for this applicant ("" while none)."""
    outcome = browser.execute_script(
        'const li = document.querySelector(`#decisions li[data-user-id="${arguments[0]}"]`);'
        "return li && li.dataset.status === 'completed'"
        " ? li.querySelector('.outcome').textContent : '';",
        user_id,
    )
    return str(outcome)


def press(browser: WebDriver, user_id: str, decision: str) -> None:
    """Click a row's button once the row is drawn (a redraw in between is tried again)."""
    selector = f'#applications-table tr[data-user-id="{user_id}"] [data-decision="{decision}"]'

    def clicked(b: WebDriver) -> bool:
        try:
            b.find_element(By.CSS_SELECTOR, selector).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait(browser).until(clicked)


def test_an_admin_approves_and_rejects_from_the_applications_panel_and_places_are_kept(
    browser: WebDriver, admin: Api, stack: LocalStack, tmp_path: Path
) -> None:
    for user_id, name in APPLICANTS:
        create_user(admin, user_id, name)
    create_approval_event(admin, capacity=1)
    for user_id, _ in APPLICANTS:  # acceptance order: ada, bob, cyd, dee
        assert admin.outcome(admin.register(EVENT, user_id))["result"]["status"] == "applied"
    # Ada is approved over the API first and takes the only seat.
    approved = admin.call("POST", f"/events/{EVENT}/applications/ap-ada/approve")
    assert admin.outcome(approved.json())["result"]["status"] == "registered"

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, EVENT)
    wait(browser).until(lambda b: b.find_element(By.ID, "applications").is_displayed())
    wait(browser).until(lambda b: pending_rows(b) == ["ap-bob", "ap-cyd", "ap-dee"])
    assert text_of(browser, "applications-summary").startswith("3 pending")
    # Names are text, next to the ids, and each button says whom it decides.
    wait(browser).until(lambda b: "Bob Kahn" in text_of(b, "applications-table"))
    approve_bob = browser.find_element(
        By.CSS_SELECTOR, '#applications-table tr[data-user-id="ap-bob"] [data-decision="approve"]'
    )
    assert approve_bob.get_attribute("aria-label") == "Approve Bob Kahn"

    # Dee (applied last) is approved first: the seat is taken, so Dee waits at 1.
    press(browser, "ap-dee", "approve")
    wait(browser).until(lambda b: outcome_of(b, "ap-dee") == "waitlisted, position 1")
    wait(browser).until(lambda b: pending_rows(b) == ["ap-bob", "ap-cyd"])
    # Cyd is rejected: the applicant leaves.
    press(browser, "ap-cyd", "reject")
    wait(browser).until(lambda b: outcome_of(b, "ap-cyd") == "rejected")
    wait(browser).until(lambda b: pending_rows(b) == ["ap-bob"])
    wait(browser).until(lambda b: line_users(b) == ["ap-dee"])
    screenshot(browser, tmp_path, "console-applications.png", 1280, 800)

    # Bob applied before Dee: approved now, Bob goes ahead of Dee, not behind.
    press(browser, "ap-bob", "approve")
    wait(browser).until(lambda b: outcome_of(b, "ap-bob") == "waitlisted, position 1")
    wait(browser).until(lambda b: line_users(b) == ["ap-bob", "ap-dee"])
    wait(browser).until(shows("applications-summary", "No pending applications."))
    assert text_of(browser, "fig-taken") == "1"

    # Each decision links its ticket; the API agrees with what the panel showed.
    tickets = dict(
        browser.execute_script(
            "return [...document.querySelectorAll('#decisions li[data-ticket-id]')]"
            ".map((li) => [li.dataset.userId, li.dataset.ticketId])"
        )
    )
    assert set(tickets) == {"ap-bob", "ap-cyd", "ap-dee"}
    for user_id, ticket_id in tickets.items():
        ticket = admin.call("GET", f"/tickets/{ticket_id}").json()
        assert ticket["userId"] == user_id
        assert ticket["type"] == ("reject" if user_id == "ap-cyd" else "approve")
    assert [w["userId"] for w in admin.call("GET", f"/events/{EVENT}/waitlist").json()] == [
        "ap-bob",
        "ap-dee",
    ]
    assert csp_violations(browser) == []


def test_a_client_keys_board_has_no_applications_panel(
    browser: WebDriver, client: Api, admin: Api, stack: LocalStack
) -> None:
    create_user(admin, "ap-eve", "Eve")
    body = {"eventId": "seminar", "capacity": 5, "admission": "approval"}
    response = admin.call(
        "POST",
        "/events",
        json=body
        | {
            "title": "Seminar",
            "description": "",
            "date": "2027-03-02",
            "location": "Room 4",
            "organizer": "Tessera",
            "status": "active",
        },
    )
    assert response.status_code == 201, response.text
    assert client.outcome(client.register("seminar", "ap-eve"))["result"]["status"] == "applied"

    open_console(browser, stack)
    sign_in(browser, CLIENT_KEY)
    open_board(browser, stack, "seminar")
    wait(browser).until(shows("board-title", "Seminar"))
    assert browser.find_elements(By.ID, "applications") == []
    assert browser.find_elements(By.CSS_SELECTOR, "[data-decision]") == []
