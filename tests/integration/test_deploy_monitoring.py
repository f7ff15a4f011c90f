"""The dashboard and alert rules in deploy/ name only metrics /metrics serves, and the metrics
they were made for (settle latency, offer expiries, live workers, database readiness) count
what happened. Real PostgreSQL and Redis; the rules also through `promtool` when installed."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from tessera.config import Settings
from tessera.telemetry import WORKER_ALIVE_SECONDS, worker_heartbeat
from tests.drain import drain_event
from tests.integration.conftest import AppFactory
from tests.integration.test_seats_persistence import make_event, make_users
from workers import runtime

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "tessera-dashboard.json"
RULES = DEPLOY / "prometheus" / "tessera-alerts.yml"
METRIC = re.compile(r"\btessera_[a-z0-9_]+\b")


@pytest.fixture
def app(api_app: AppFactory, settings: Settings, db: sessionmaker[Session]) -> Flask:
    built = api_app(dataclasses.replace(settings, auth_enabled=False))
    make_event(db, "e1", capacity=1)
    make_users(db, "ann", "bob")
    return built


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def served(http: FlaskClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample /metrics serves: name → labels → value."""
    response = http.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rule_expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def test_every_metric_the_dashboard_and_the_alert_rules_name_is_one_metrics_serves(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    http.post("/events/e1/registrations", json={"userId": "ann"})
    http.post("/events/e1/registrations", json={"userId": "bob"})
    http.get("/no-such-route")
    drain_event(worker, "e1")
    names = set(served(http))

    expressions = dashboard_expressions() + rule_expressions()
    named = {name for expr in expressions for name in METRIC.findall(expr)}

    assert len(rule_expressions()) >= 8
    assert {"tessera_ticket_settle_seconds_bucket", "tessera_workers"} <= named
    assert named - names == set(), f"named but not served: {sorted(named - names)}"


def test_the_metrics_count_settle_times_offer_expiries_live_workers_and_database_readiness(
    http: FlaskClient, worker: runtime.Runtime, redis_client: redis.Redis
) -> None:
    http.post("/events/e1/registrations", json={"userId": "ann"})
    drain_event(worker, "e1")
    now = time.time()
    worker_heartbeat(redis_client, "tessera-1a2b3c4d@host", now)
    worker_heartbeat(redis_client, "tessera-webhooks-5e6f@host", now - WORKER_ALIVE_SECONDS - 1)

    samples = served(http)

    assert samples["tessera_ticket_settle_seconds_count"][()] == 1
    assert samples["tessera_ticket_settle_seconds_bucket"][(("le", "+Inf"),)] == 1
    assert samples["tessera_offers_expired_total"][()] == 0
    assert samples["tessera_workers"] == {(("kind", "apply"),): 1, (("kind", "webhooks"),): 0}
    assert samples["tessera_database_ready"][()] == 1


def test_metrics_say_the_database_is_not_ready_when_it_does_not_answer(
    api_app: AppFactory, settings: Settings
) -> None:
    unreachable = "postgresql+psycopg://tessera@127.0.0.1:1/tessera?connect_timeout=1"
    app = api_app(dataclasses.replace(settings, auth_enabled=False, database_url=unreachable))

    samples = served(app.test_client())

    assert samples["tessera_database_ready"][()] == 0


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs it from Debian's prometheus)")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout
