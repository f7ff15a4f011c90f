"""The operator console in a real headless Chromium, against the real stack: sign in, the events
list, an event board that follows registrations live, names shown as text, the admin settings
with the API's own validation messages, a client key's narrower view, and the hand-written
event-stream reader.

Screenshots of the board (desktop and phone width) are taken on every run; with
`UPDATE_SCREENSHOTS=1` they are written to docs/img/ for the README.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from benchmarks.localstack import LocalStack
from tests.browser.conftest import missing_browser
from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY, Api

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
    return WebDriverWait(browser, seconds, poll_frequency=0.02)


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
    countdown = browser.find_element(By.CSS_SELECTOR, "#offers-table td.countdown")
    first = countdown.text
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
