"""Browser fixtures: Debian's headless Chromium driven by Selenium through the system
chromedriver (nothing is ever downloaded), against the e2e stack: a gunicorn API, a real Celery
worker and beat on the session's PostgreSQL and Redis (`tests/e2e/conftest.py`)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from tests.conftest import wipe

# The e2e stack and its HTTP client, reused as they are (a fixture imported into a conftest is
# that directory's fixture too).
# The stack trusts attendee tokens signed by `attendee_signer` (a JWKS file it writes).
from tests.e2e.conftest import ADMIN_KEY, CLIENT_KEY, Api, attendee_signer, stack
from tests.localstack import LocalStack

__all__ = ["admin", "attendee_signer", "browser", "client", "empty_database", "stack"]

CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TESSERA_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not absent:
        return None
    return (
        f"no {' or '.join(absent)}: the browser tests need Debian's Chromium "
        "(apt-get install chromium chromium-driver; .ci/run installs them where it can)"
    )


@pytest.fixture(scope="session")
def browser(stack: LocalStack) -> Iterator[WebDriver]:
    """One headless Chromium for the session, with a fresh profile. It needs the stack, so it
    closes first: an open update stream would hold the API's graceful shutdown for seconds."""
    profile = Path(tempfile.mkdtemp(prefix="tessera-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never runs, so nothing is downloaded.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def empty_database(engine: Engine) -> None:
    """The browser tests empty the database once and then use ids of their own, instead of a
    TRUNCATE before each test (the e2e `db` fixture): a TRUNCATE can deadlock with the live
    stack's sweeper, which reads tickets and then deletes from event_log in one transaction,
    and PostgreSQL then aborts one of the two. Here the TRUNCATE is simply tried again."""
    for attempt in range(5):
        try:
            wipe(engine)
            return
        except OperationalError as error:
            if not isinstance(error.orig, psycopg.errors.DeadlockDetected) or attempt == 4:
                raise
            time.sleep(0.2)


@pytest.fixture
def admin(stack: LocalStack, empty_database: None) -> Api:
    return Api(stack.base_url, ADMIN_KEY)


@pytest.fixture
def client(stack: LocalStack, empty_database: None) -> Api:
    return Api(stack.base_url, CLIENT_KEY)
