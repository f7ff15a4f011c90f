"""The operator console in a real headless Chromium, against the real stack: sign in, the events
list, an event board that follows registrations live, names shown as text, the admin settings
with the API's own validation messages, a client key's narrower view, and the hand-written
event-stream reader.

Screenshots of the board (desktop and phone width) are taken on every run; with
`UPDATE_SCREENSHOTS=1` they are written to docs/img/ for the README.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, text

from tests.browser.conftest import missing_browser
from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY, Api
from tests.localstack import LocalStack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(missing_browser() is not None, reason=str(missing_browser())),
]

log = logging.getLogger(__name__)

LIVE_WITHIN_SECONDS = 1.0
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
NAMES = [
    "Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov",
    "Donald Knuth", "Frances Allen", "Ken Thompson", "Margaret Hamilton", "John Backus",
    "Radia Perlman", "Tony Hoare", "Leslie Lamport", "Sophie Wilson", "Niklaus Wirth",
    "Hedy Lamarr",
]  # fmt: skip


# --- helpers ------------------------------------------------------------------------------


def create_event(
    api: Api, event_id: str, title: str, capacity: int, status: str = "active"
) -> None:
    body = {
        "eventId": event_id,
        "title": title,
        "description": "",
        "date": "2026-12-01",
        "location": "Hall A",
        "capacity": capacity,
        "organizer": "Tessera",
        "status": status,
        "waitlistEnabled": True,
    }
    response = api.call("POST", "/events", json=body)
    assert response.status_code == 201, response.text


def create_user(api: Api, user_id: str, name: str) -> None:
    response = api.call("POST", "/users", json={"userId": user_id, "name": name})
    assert response.status_code == 201, response.text


def wait(browser: WebDriver, seconds: float = 10) -> WebDriverWait[WebDriver]:
    """A wait that looks again when the page redrew what it was reading (a panel re-renders on
    every update, so an element found a moment ago may be gone by the time it is read)."""
    return WebDriverWait(
        browser, seconds, poll_frequency=0.02, ignored_exceptions=[StaleElementReferenceException]
    )


def text_of(browser: WebDriver, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def shows(element_id: str, expected: str) -> Callable[[WebDriver], bool]:
    return lambda browser: text_of(browser, element_id) == expected


def board_state(browser: WebDriver, ticket_id: str) -> tuple[str, str, bool]:
    """Seats taken, the line's length, and whether the live feed shows the ticket."""
    in_feed = browser.find_elements(By.CSS_SELECTOR, f'#feed-list [data-ticket-id="{ticket_id}"]')
    return text_of(browser, "fig-taken"), text_of(browser, "fig-waiting"), bool(in_feed)


def open_console(browser: WebDriver, stack: LocalStack, fragment: str = "") -> None:
    """A fresh tab's state: nobody signed in."""
    browser.get(stack.base_url + "/console")
    browser.execute_script("sessionStorage.clear()")
    browser.get(stack.base_url + "/console" + fragment)
    wait(browser).until(lambda b: b.find_element(By.ID, "api-key").is_displayed())


def sign_in(browser: WebDriver, key: str) -> None:
    key_field = browser.find_element(By.ID, "api-key")
    key_field.clear()
    key_field.send_keys(key, Keys.ENTER)  # the keyboard is enough
    wait(browser).until(lambda b: b.find_element(By.ID, "who").is_displayed())


def open_board(browser: WebDriver, stack: LocalStack, event_id: str) -> None:
    browser.get(f"{stack.base_url}/console#/events/{event_id}")
    wait(browser).until(
        lambda b: b.find_element(By.ID, "stream-state").get_attribute("data-state") == "open"
    )


def csp_violations(browser: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "TrustedHTML" in entry["message"]
    ]


def screenshot(browser: WebDriver, tmp_path: Path, name: str, width: int, height: int) -> Path:
    """The page at exactly width x height CSS pixels."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    try:
        time.sleep(0.5)  # a layout, the chart redrawn to its new width, a paint
        path = tmp_path / name
        assert browser.save_screenshot(str(path))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / name)
    return path


# --- tests --------------------------------------------------------------------------------


def test_an_operator_signs_in_opens_an_event_and_watches_it_fill_live(
    browser: WebDriver,
    admin: Api,
    stack: LocalStack,
    tmp_path: Path,
) -> None:
    users = [(f"fan-{n:02d}", NAMES[n % len(NAMES)]) for n in range(32)]
    for user_id, name in users:
        create_user(admin, user_id, name)
    create_event(admin, "launch-night", "Launch night", capacity=30)

    open_console(browser, stack)
    browser.find_element(By.ID, "api-key").send_keys("not-a-key", Keys.ENTER)
    wait(browser).until(lambda b: b.find_element(By.ID, "sign-in-alert").is_displayed())
    assert "refused" in text_of(browser, "sign-in-alert")
    sign_in(browser, ADMIN_KEY)
    assert text_of(browser, "role") == "admin key"
    assert ADMIN_KEY not in browser.current_url
    assert browser.execute_script("return sessionStorage.length") == 2  # the key and its role

    link = wait(browser).until(lambda b: b.find_element(By.LINK_TEXT, "Launch night"))
    link.click()
    wait(browser).until(shows("board-title", "Launch night"))
    wait(browser).until(lambda b: text_of(b, "stream-state").startswith("Live: connected"))

    # A rush first (one batch), then single registrations, each seen on the board at once.
    batch = admin.call(
        "POST",
        "/batches",
        json={
            "items": [
                {"type": "register", "userId": u, "eventId": "launch-night"} for u, _ in users[:24]
            ]
        },
    )
    assert batch.status_code == 202, batch.text
    wait(browser).until(shows("fig-taken", "24"))
    delays: list[float] = []
    for seated, (user_id, _) in enumerate(users[24:], start=25):
        ticket = admin.outcome(admin.register("launch-night", user_id))
        settled = time.monotonic()
        taken, in_line = min(seated, 30), max(0, seated - 30)
        expected = (str(taken), str(in_line), True)
        wait(browser, LIVE_WITHIN_SECONDS).until(
            lambda b, expected=expected, ticket_id=ticket["ticketId"]: (
                board_state(b, ticket_id) == expected
            ),
            f"within a second: {taken} taken, {in_line} in line, the ticket in the feed",
        )
        delays.append(time.monotonic() - settled)
    log.info("board updated after settling (ms): %s", [round(d * 1000) for d in delays])
    assert max(delays) < LIVE_WITHIN_SECONDS

    assert text_of(browser, "fig-capacity") == "30"
    assert text_of(browser, "fig-free") == "0"
    assert text_of(browser, "fig-offered") == "0"
    wait(browser).until(lambda b: "fan-31" in text_of(b, "line-table"))  # refreshed each second
    assert "fan-30" in text_of(browser, "line-table")
    assert float(text_of(browser, "settled-rate")) > 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#settle-chart rect.bar")) == 60
    assert text_of(browser, "latency-p50") == "n/a" or text_of(browser, "latency-p50").endswith(
        "ms"
    )

    time.sleep(1.1)  # the names of the line have arrived, the chart has ticked
    screenshot(browser, tmp_path, "console-board-desktop.png", 1280, 800)
    screenshot(browser, tmp_path, "console-board-phone.png", 390, 844)
    assert csp_violations(browser) == []


def test_an_offer_shows_its_held_seats_and_a_countdown_and_leaves_when_accepted(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    body = {
        "eventId": "course", "title": "Course", "description": "", "date": "2027-01-01",
        "location": "Room 1", "capacity": 1, "organizer": "Uni", "status": "active",
        "waitlistEnabled": True, "promotion": "offer", "offerTtlSeconds": 600,
    }  # fmt: skip
    assert admin.call("POST", "/events", json=body).status_code == 201
    create_user(admin, "offer-ann", "Ann")
    create_user(admin, "offer-bob", "Bob Offered")
    admin.outcome(admin.register("course", "offer-ann"))
    admin.outcome(admin.register("course", "offer-bob"))

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "course")
    admin.outcome(admin.unregister("course", "offer-ann"))  # bob is offered the seat

    wait(browser).until(lambda b: "Bob Offered" in text_of(b, "offers-table"))
    assert text_of(browser, "fig-offered") == "1"
    assert text_of(browser, "fig-free") == "0"
    first = wait(browser).until(
        lambda b: b.find_element(By.CSS_SELECTOR, "#offers-table td.countdown").text
    )
    assert first.startswith(("9", "10"))  # about ten minutes left
    wait(browser, 3).until(
        lambda b: b.find_element(By.CSS_SELECTOR, "#offers-table td.countdown").text != first
    )

    response = admin.call("POST", "/events/course/offers/offer-bob/accept")
    assert response.status_code == 202
    admin.outcome(response.json())
    wait(browser).until(shows("fig-taken", "1"))
    wait(browser).until(lambda b: "No open offers." in text_of(b, "offers-table"))
    assert text_of(browser, "fig-offered") == "0"
    assert csp_violations(browser) == []


def test_names_and_titles_with_markup_are_shown_as_text(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    title = "<script>alert(1)</script>"
    name = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    create_event(admin, "xss", title, capacity=1)
    create_user(admin, "first", "First")
    create_user(admin, "mallory", name)
    admin.outcome(admin.register("xss", "first"))
    admin.outcome(admin.register("xss", "mallory"))  # waitlisted: shown in the line, by name

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    wait(browser).until(lambda b: b.find_element(By.LINK_TEXT, title))  # the list, as text
    open_board(browser, stack, "xss")

    wait(browser).until(shows("board-title", title))
    wait(browser).until(lambda b: name in text_of(b, "line-table"))
    assert browser.execute_script("return window.__xss") is None
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1  # only the console's own
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert csp_violations(browser) == []


def test_the_admin_settings_show_the_apis_own_messages_next_to_the_fields(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    create_event(admin, "tune", "Tuning", capacity=2)
    for user_id in ("ann", "bob", "cy"):
        create_user(admin, user_id, user_id.title())
        admin.outcome(admin.register("tune", user_id))
    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "tune")
    wait(browser).until(shows("fig-waiting", "1"))

    def save(capacity: str) -> WebElement:
        field = wait(browser).until(lambda b: b.find_element(By.ID, "setting-capacity"))
        field.clear()
        field.send_keys(capacity, Keys.ENTER)
        return field

    api_says = admin.call("PUT", "/events/tune", json={"capacity": 0}).json()
    field = save("0")
    wait(browser).until(lambda b: b.find_element(By.ID, "setting-capacity-error").is_displayed())
    assert text_of(browser, "setting-capacity-error") == api_says["errors"][0]["message"]
    assert field.get_attribute("aria-invalid") == "true"
    assert browser.switch_to.active_element == field  # focus goes to the field to fix

    api_says = admin.call("PUT", "/events/tune", json={"capacity": 1}).json()
    save("1")
    wait(browser).until(shows("setting-capacity-error", api_says["detail"]))
    assert api_says["code"] == "CAPACITY_BELOW_REGISTERED"

    save("3")  # a raise seats the head of the line at once
    wait(browser).until(lambda b: text_of(b, "fig-taken") == "3")
    assert text_of(browser, "fig-waiting") == "0"
    assert not browser.find_element(By.ID, "setting-capacity-error").is_displayed()
    assert admin.call("GET", "/events/tune").json()["capacity"] == 3
    wait(browser).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#feed-list .kind-registration-promoted")
    )


def test_a_client_key_has_no_settings_and_sees_only_its_own_tickets(
    browser: WebDriver, admin: Api, client: Api, stack: LocalStack
) -> None:
    create_event(admin, "open-day", "Open day", capacity=5)
    create_user(admin, "dee", "Dee")
    create_user(admin, "eve", "Eve")
    admins_ticket = admin.outcome(admin.register("open-day", "dee"))
    own_ticket = client.outcome(client.register("open-day", "eve"))

    open_console(browser, stack)
    sign_in(browser, CLIENT_KEY)
    assert text_of(browser, "role") == "client key"
    open_board(browser, stack, "open-day")
    wait(browser).until(shows("fig-taken", "2"))
    assert browser.find_elements(By.ID, "settings") == []

    browser.get(f"{stack.base_url}/console#/tickets/{own_ticket['ticketId']}")
    wait(browser).until(lambda b: b.find_elements(By.ID, "ticket-details"))
    details = text_of(browser, "ticket-details")
    assert own_ticket["ticketId"] in details
    assert "registered" in details

    browser.get(f"{stack.base_url}/console#/tickets/{admins_ticket['ticketId']}")
    wait(browser).until(lambda b: "No ticket" in text_of(b, "ticket-result"))

    browser.find_element(By.ID, "sign-out").click()
    wait(browser).until(lambda b: b.find_element(By.ID, "api-key").is_displayed())
    assert browser.execute_script("return sessionStorage.length") == 0


def test_the_events_list_filters_pages_and_opens_by_id_and_keyboard(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    # The tests share one database (see conftest): a status of their own keeps these apart.
    for n in range(22):
        create_event(admin, f"talk-{n:02d}", f"Talk {n:02d}", capacity=10, status="talk")
    response = admin.call("PUT", "/events/talk-05", json={"status": "cancelled"})
    assert response.status_code == 200, response.text

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    wait(browser).until(lambda b: "Page 1" in text_of(b, "page-info"))
    browser.find_element(By.ID, "status-filter").send_keys("talk", Keys.ENTER)
    wait(browser).until(lambda b: "status talk" in text_of(b, "page-info"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")) == 20
    browser.find_element(By.ID, "next-page").click()
    wait(browser).until(lambda b: "Page 2" in text_of(b, "page-info"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")) == 1
    assert not browser.find_element(By.ID, "next-page").is_enabled()
    browser.find_element(By.ID, "previous-page").click()
    wait(browser).until(lambda b: "Page 1" in text_of(b, "page-info"))

    status_filter = browser.find_element(By.ID, "status-filter")
    status_filter.clear()
    status_filter.send_keys("cancelled", Keys.ENTER)
    wait(browser).until(lambda b: "status cancelled" in text_of(b, "page-info"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")
    assert [row.find_element(By.TAG_NAME, "code").text for row in rows] == ["talk-05"]

    browser.find_element(By.ID, "event-search").send_keys("no-such-event", Keys.ENTER)
    wait(browser).until(shows("events-alert", "No event no-such-event."))
    search = browser.find_element(By.ID, "event-search")
    search.clear()
    search.send_keys("talk-07", Keys.ENTER)
    wait(browser).until(shows("board-title", "Talk 07"))

    # Keyboard only: a new page puts focus on its heading; behind it come the navigation and
    # the skip link, ahead of it the page's controls; Enter on a link follows it, and the
    # focused element shows an outline.
    browser.get(f"{stack.base_url}/console#/events")
    wait(browser).until(lambda b: "Page 1" in text_of(b, "page-info"))
    assert browser.switch_to.active_element.tag_name == "h1"
    backwards = []
    for _ in range(4):
        browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        backwards.append(browser.switch_to.active_element.text)
    assert backwards == ["Sign out", "Ticket lookup", "Events", "Skip to content"]
    browser.find_element(By.ID, "status-filter").send_keys("talk", Keys.ENTER)
    wait(browser).until(lambda b: b.find_elements(By.LINK_TEXT, "Talk 03"))
    for _ in range(40):
        active = browser.switch_to.active_element
        if active.text == "Talk 03":
            break
        active.send_keys(Keys.TAB)
    else:
        pytest.fail("Tab never reached the event's link")
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser).until(shows("board-title", "Talk 03"))
    assert csp_violations(browser) == []


MODULE_CHECKS = Path(__file__).with_name("module_checks.js")


def test_the_stream_reader_the_settling_figures_and_the_v2_fallbacks(
    browser: WebDriver, stack: LocalStack
) -> None:
    browser.get(stack.base_url + "/console")  # the page's origin and CSP; no stack needed beyond
    browser.set_script_timeout(10)
    out = json.loads(browser.execute_async_script(MODULE_CHECKS.read_text()))

    assert "error" not in out, out
    assert out["parsed"]["events"] == [
        {"type": "ticket.completed", "data": '{"a":1}', "id": "1"},
        {"type": "registration.promoted", "data": "line1\nline2", "id": "2"},
        {"type": "message", "data": "no id of its own", "id": "2"},
    ]
    assert out["parsed"]["comments"] == ["keep-alive"]
    assert out["parsed"]["retries"] == [500]
    sent = out["reconnect"]["sent"]
    assert [headers.get("Last-Event-ID") for headers in sent[:3]] == [None, "7", "7"]
    assert all(headers["Authorization"] == "Bearer k" for headers in sent)
    assert out["reconnect"]["received"] == [
        ["7", "ticket.completed", "{}"],
        ["7", "message", "after the gap"],
    ]
    assert out["refused"] == {"calls": 1, "closed": True, "last": ["failed", 401]}
    assert out["figures"] == [
        {"capacity": 10, "taken": 4, "offered": 0, "free": 6, "seatedParties": 4,
         "waitingParties": 0, "waitingSeats": None, "parties": False, "offers": False},
        {"capacity": 10, "taken": 7, "offered": 2, "free": 1, "seatedParties": 3,
         "waitingParties": 2, "waitingSeats": 5, "parties": True, "offers": True},
    ]  # fmt: skip
    assert out["settings"] == [
        ["capacity", "waitlistEnabled"],
        ["capacity", "waitlistEnabled", "maxPartySize", "waitlistPolicy", "promotion",
         "registrationOpensAt"],
    ]  # fmt: skip
    assert out["latency"] == [250, None]
    assert out["recent"] == {"perSecond": 2, "p50": None, "p95": None, "latencyKnown": False}


# --- the ledger ---------------------------------------------------------------------------


def ledger_status(browser: WebDriver) -> str:
    return text_of(browser, "ledger-status")


def newest_ledger_row(browser: WebDriver) -> list[str]:
    cells = browser.find_elements(By.CSS_SELECTOR, "#ledger-table tbody tr:first-child td")
    return [cell.text for cell in cells]


def ledger_reads(browser: WebDriver) -> list[str]:
    """The `after` of every ledger page the page has asked for, in order."""
    urls: list[str] = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((name) => name.includes('/ledger?'))"
    )
    return [parse_qs(urlsplit(url).query)["after"][0] for url in urls]


def test_the_ledger_panel_verifies_the_chain_and_follows_new_entries_live(
    browser: WebDriver, admin: Api, stack: LocalStack
) -> None:
    create_event(admin, "ledger-live", "Ledger live", capacity=2)
    for user_id in ("led-ann", "led-bob", "led-cy", "led-dee"):
        create_user(admin, user_id, user_id.title())
    for user_id in ("led-ann", "led-bob", "led-cy"):
        admin.outcome(admin.register("ledger-live", user_id))
    head = admin.call("GET", "/events/ledger-live/ledger?after=3").json()["items"][0]["hash"]

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "ledger-live")
    # the event's creation and three tickets
    wait(browser).until(lambda b: ledger_status(b).startswith("Chain verified: 4 entries"))
    assert ledger_status(browser) == f"Chain verified: 4 entries, head {head[:12]}…"
    assert text_of(browser, "ledger-summary") == "4 entries, newest first."
    assert newest_ledger_row(browser) == [
        "4", "ticket", "led-cy", "register", "waitlisted #1", head[:12],
    ]  # fmt: skip
    rows = browser.find_elements(By.CSS_SELECTOR, "#ledger-table tbody tr")
    assert [row.find_element(By.TAG_NAME, "td").text for row in rows] == ["4", "3", "2", "1"]
    assert "created, capacity 2" in rows[-1].text

    admin.outcome(admin.register("ledger-live", "led-dee"))
    wait(browser, 3).until(lambda b: ledger_status(b).startswith("Chain verified: 5 entries"))
    assert newest_ledger_row(browser)[:5] == ["5", "ticket", "led-dee", "register", "waitlisted #2"]
    admin.outcome(admin.unregister("ledger-live", "led-ann"))  # the line's head is seated
    wait(browser, 3).until(lambda b: ledger_status(b).startswith("Chain verified: 6 entries"))
    assert newest_ledger_row(browser)[4] == "unregistered; promoted led-cy"
    entries = admin.call("GET", "/events/ledger-live/ledger").json()["items"]
    assert ledger_status(browser) == f"Chain verified: 6 entries, head {entries[-1]['hash'][:12]}…"

    # Read from index 1 once; every later read asks only for what follows the last entry seen.
    reads = ledger_reads(browser)
    assert reads[0] == "0"
    assert "0" not in reads[1:]
    assert {"4", "5"} <= set(reads[1:])
    assert csp_violations(browser) == []


def test_the_ledger_panel_reports_a_tampered_entry_where_the_chain_breaks(
    browser: WebDriver, admin: Api, stack: LocalStack, engine: Engine
) -> None:
    create_event(admin, "ledger-forged", "Ledger forged", capacity=1)
    for user_id in ("forge-ann", "forge-bob", "forge-cy"):
        create_user(admin, user_id, user_id.title())
        admin.outcome(admin.register("ledger-forged", user_id))
    # Entry 3 (bob, waitlisted) rewritten as seated, its hash left as it was.
    with engine.begin() as connection:
        forged = connection.execute(
            text(
                "UPDATE ledger_entries SET entry = replace(entry, :was, :now)"
                " WHERE event_id = 'ledger-forged' AND index = 3"
            ),
            {"was": '"status":"waitlisted"', "now": '"status":"registered"'},
        )
        assert forged.rowcount == 1

    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "ledger-forged")
    wait(browser).until(lambda b: ledger_status(b).startswith("Chain broken"))
    assert ledger_status(browser) == (
        "Chain broken at entry 3: hash mismatch: the entry is not what was hashed. "
        "The 2 entries before it verified."
    )
    assert browser.find_element(By.ID, "ledger-status").get_attribute("data-state") == "broken"
    broken_rows = browser.find_elements(By.CSS_SELECTOR, "#ledger-table tbody tr.broken")
    assert [row.find_element(By.TAG_NAME, "td").text for row in broken_rows] == ["3"]
    outcome = broken_rows[0].find_elements(By.TAG_NAME, "td")[4].text
    assert outcome == "registered"  # the forged outcome, shown as stored

    # New entries are still counted and shown, but a break never heals.
    create_user(admin, "forge-dee", "Dee")
    admin.outcome(admin.register("ledger-forged", "forge-dee"))
    wait(browser, 3).until(lambda b: text_of(b, "ledger-summary").startswith("5 entries"))
    assert ledger_status(browser).startswith("Chain broken at entry 3: hash mismatch")
    assert csp_violations(browser) == []


def test_an_event_without_a_ledger_says_so(
    browser: WebDriver, admin: Api, stack: LocalStack, engine: Engine
) -> None:
    create_event(admin, "ledger-none", "Before the ledger", capacity=1)
    # As migration 0004 left the events created before it: no entries, length -1.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM ledger_entries WHERE event_id = 'ledger-none'"))
        connection.execute(
            text("UPDATE events SET ledger_length = -1 WHERE event_id = 'ledger-none'")
        )
    open_console(browser, stack)
    sign_in(browser, ADMIN_KEY)
    open_board(browser, stack, "ledger-none")
    wait(browser).until(shows("ledger-summary", "No ledger recorded for this event."))
    assert ledger_status(browser) == ""
    assert not browser.find_element(By.ID, "ledger-table").is_displayed()


LEDGER_CHECKS = Path(__file__).with_name("ledger_checks.js")
TRICKY_VALUES: list[object] = [
    'a "quoted" \\ backslash / slash',
    "".join(chr(code) for code in range(0x20)) + "\x7f",
    "line\u2028and paragraph\u2029separators",
    "emoji 😀 🎟️, é, ñ, 中文, \ufeff, \uffff",
    {"b": 1, "a": [True, False, None, -7, 0, 2**53 - 1, [], {}], "": "empty key"},
    # Code point order: U+E000 and U+FF01 come before an astral emoji in Python; JS's default
    # sort (UTF-16 code units) would put the emoji's surrogates first.
    {"😀": 1, "\uff01": 2, "\ue000": 3, "é": 4, "Z": 5, "a": 6, "\U0001f600x": 7, "😀\x00": 8},
    {"nested": {"z": {"y": "\n\t\r\b\f"}, "a": ["\u0000", "\u001f"]}, "Zoë": "zoë"},
]


def python_canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sealed(body: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """The contract's hash chain, computed here from its words (not with models.domain.ledger)."""
    chained = {**body, "prevHash": prev_hash}
    digest = hashlib.sha256(python_canonical(chained).encode()).hexdigest()
    return {**chained, "hash": digest}


def chain_of(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries, prev = [], "0" * 64
    for body in bodies:
        entries.append(sealed(body, prev))
        prev = entries[-1]["hash"]
    return entries


def ledger_body(index: int, kind: str, outcome: dict[str, Any], **ticket: Any) -> dict[str, Any]:
    fields = {"ticketId": None, "type": None, "userId": None, "seats": None, "acceptedAt": None}
    return {
        "index": index,
        "eventId": "évt 😀",
        "kind": kind,
        **fields,
        **ticket,
        "outcome": outcome,
    }


def test_the_ledger_module_hashes_what_python_hashes_and_finds_every_break(
    browser: WebDriver, stack: LocalStack
) -> None:
    zoe = "Zoë 😀 \u2028"
    let_in = {"promotedUserIds": [], "offeredUserIds": [], "offers": []}
    bodies = [
        ledger_body(1, "event_created", {"capacity": 1, "waitlistEnabled": True}),
        ledger_body(
            2, "ticket", {"status": "registered", "position": None, **let_in},
            ticketId="t-1", type="register", userId="ann", seats=1,
            acceptedAt="2030-01-01T09:00:00.000Z",
        ),
        ledger_body(
            3, "ticket", {"status": "waitlisted", "position": 1, "message": 'a "b" \\', **let_in},
            ticketId="t-2", type="register", userId=zoe, seats=1,
            acceptedAt="2030-01-01T09:00:00.001Z",
        ),
        ledger_body(
            4, "ticket",
            {"status": "unregistered", **let_in, "offeredUserIds": [zoe],
             "offers": [{"userId": zoe, "seats": 1, "expiresAt": "2030-01-01T10:00:00.000Z"}]},
            ticketId="t-3", type="unregister", userId="ann",
            acceptedAt="2030-01-01T09:00:01.000Z",
        ),
        ledger_body(5, "offer_expired", {"userId": zoe, "left": "offered", **let_in}, userId=zoe),
        ledger_body(
            6, "event_updated",
            {"changes": {"capacity": {"from": 1, "to": 2}}, **let_in, "promotedUserIds": ["bo"]},
        ),
    ]  # fmt: skip
    chain = chain_of(bodies)
    tampered = [dict(entry) for entry in chain]
    tampered[2] = {**chain[2], "outcome": {**chain[2]["outcome"], "position": 2}}
    # Entry 3 changed and hashed again: it holds, but entry 4 no longer follows it.
    resealed = [
        *chain[:2],
        sealed({**bodies[2], "userId": "mallory"}, chain[1]["hash"]),
        *chain[3:],
    ]
    broken = {
        "tampered": tampered,
        "dropped": [*chain[:2], *chain[3:]],
        "reordered": [*chain[:2], chain[3], chain[2], *chain[4:]],
        "resealed": resealed,
        "forgedStart": [sealed(bodies[0], "1" * 64), *chain[1:]],
        "notAnEntry": [*chain[:3], None],
    }

    browser.get(stack.base_url + "/console")  # a secure context: http on 127.0.0.1
    browser.set_script_timeout(10)
    given = json.dumps({"values": TRICKY_VALUES, "chain": chain, "broken": broken})
    out = json.loads(browser.execute_async_script(LEDGER_CHECKS.read_text(), given))

    assert "error" not in out, out.get("error")
    assert out["canonical"] == [python_canonical(value) for value in TRICKY_VALUES]
    assert out["refused"] == [["refused", True]] * 4
    assert out["loneSurrogate"] == '"a\\ud800b"'  # Python could not encode it at all
    assert out["hashes"] == [entry["hash"] for entry in chain]
    head = chain[-1]["hash"]
    assert out["whole"] == {"ok": True, "count": 6, "lastIndex": 6, "head": head}
    assert out["pages"][1] == {"ok": True, "count": 4, "lastIndex": 6, "head": head}
    hash_mismatch = "hash mismatch: the entry is not what was hashed"
    assert out["broken"] == {
        "tampered": {"ok": False, "index": 3, "reason": hash_mismatch, "count": 2},
        "dropped": {"ok": False, "index": 4, "count": 2,
                    "reason": "index gap: entry 3 expected, 4 found"},
        "reordered": {"ok": False, "index": 4, "count": 2,
                      "reason": "index gap: entry 3 expected, 4 found"},
        "resealed": {"ok": False, "index": 4, "count": 3,
                     "reason": "prevHash mismatch: it is not entry 3's hash"},
        "forgedStart": {"ok": False, "index": 1, "count": 0,
                        "reason": "prevHash mismatch: the first entry must follow 64 zeros"},
        "notAnEntry": {"ok": False, "index": 4, "count": 3,
                       "reason": "index gap: entry 4 expected, undefined found"},
    }  # fmt: skip
    assert out["summaries"] == [
        "created, capacity 1",
        "registered",
        "waitlisted #1",
        f"unregistered; offered to {zoe}",
        "left (offered)",
        "capacity 1→2; promoted bo",
    ]
    assert out["follower"] == {
        "asked": [0, 2, 3, 5, 6],  # pages of 2: 1-2, 3; then 4-5, 6; then nothing new
        "length": 6,
        "verified": 6,
        "head": head,
        "broken": None,
        "recent": [6, 5, 4],
    }
    assert out["insecure"] == [
        False,
        {"ok": None, "reason": "cannot verify here (not a secure context)"},
    ]
    assert out["secureAgain"] is True
