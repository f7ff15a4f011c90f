"""`tessera up` as a user runs it: one command, its own embedded servers, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from tessera.tools.servers import free_port
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.e2e

ADMIN_KEY = "up-admin-key-0123456789abcdef"


def wait_for_line(process: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} in output:\n{''.join(lines)[-4000:]}")


@dataclass
class Started:
    base: str
    flower_port: int
    flower_auth: str
    data_dir: Path
    pid: int
    output: list[str]
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def up(started: Started) -> tuple[str, int, str, Path]:
    return started.base, started.flower_port, started.flower_auth, started.data_dir


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    data_dir = tmp_path_factory.mktemp("up") / "data"
    port, flower_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "TESSERA_WEBHOOK_KEY"}
    }
    env.update(
        TESSERA_API_KEYS=f"{ADMIN_KEY}:admin",
        TESSERA_FLOWER_PORT=str(flower_port),
        TESSERA_FLOWER_AUTH="ops:secret-pass",
        TESSERA_WORKER_PROCESSES="1",
        TESSERA_WEBHOOK_WORKERS="2",
        TESSERA_WEBHOOK_ALLOW_PRIVATE="1",  # the test's receiver listens on loopback
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tessera.tools.cli",
            "up",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = wait_for_line(process, f"Tessera ready: http://127.0.0.1:{port}")
        output += wait_for_line(
            process, f"Operator console: http://127.0.0.1:{port}/console", timeout=5
        )
        yield Started(
            f"http://127.0.0.1:{port}",
            flower_port,
            "ops:secret-pass",
            data_dir,
            process.pid,
            output,
            process,
        )
        up_process = psutil.Process(process.pid)
        family = up_process.children(recursive=True)
        servers = [
            int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0]),
            json.loads((data_dir / "redis" / "redis.json").read_text())["pid"],
        ]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - started < 10, "tessera up took more than 10 s to stop"
        survivors = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        survivors += [psutil.Process(pid) for pid in servers if psutil.pid_exists(pid)]
        survivors = [p for p in survivors if p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], f"left behind: {[p.cmdline() for p in survivors]}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_up_serves_commands_streams_updates_shows_workers_in_flower_and_exports_metrics(
    up: tuple[str, int, str, Path],
) -> None:
    base, flower_port, flower_auth, _ = up
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    assert api.post(base + "/users", json={"userId": "ann", "name": "Ann"}).status_code == 201
    event = {
        "eventId": "launch", "title": "Launch", "description": "", "date": "2026-12-01",
        "location": "Hall", "capacity": 1, "organizer": "Org", "status": "active",
        "waitlistEnabled": True,
    }  # fmt: skip
    assert api.post(base + "/events", json=event).status_code == 201

    with api.get(base + "/events/launch/updates", stream=True, timeout=30) as stream:
        ticket = api.post(base + "/events/launch/registrations", json={"userId": "ann"}).json()
        seen = ""
        for line in stream.iter_lines(decode_unicode=True):
            seen += line + "\n"
            if line.startswith("data:") and ticket["ticketId"] in line:
                break
    assert "event: ticket.completed" in seen
    assert '"status":"registered"' in seen

    flower = f"http://127.0.0.1:{flower_port}"
    assert requests.get(flower + "/api/workers", timeout=10).status_code == 401
    user, password = flower_auth.split(":")
    deadline = time.monotonic() + 30
    workers: dict[str, object] = {}
    while time.monotonic() < deadline and not workers:
        reply = requests.get(
            flower + "/api/workers", params={"refresh": "1"}, auth=(user, password), timeout=10
        )
        assert reply.status_code == 200
        workers = reply.json()
        time.sleep(0.5)
    assert any(name.startswith("tessera-") for name in workers), workers

    metrics = api.get(base + "/metrics", timeout=10).text
    assert "tessera_tickets_accepted_total" in metrics
    assert 'tessera_tickets_applied_total{result="registered"}' in metrics


def test_up_delivers_signed_webhooks_from_its_own_worker_visible_in_flower(
    up: tuple[str, int, str, Path],
) -> None:
    base, flower_port, flower_auth, data_dir = up
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    with receiving() as receiver:
        created = api.post(base + "/webhooks", json={"url": receiver.url, "events": ["*"]})
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        assert api.post(base + "/users", json={"userId": "bo", "name": "Bo"}).status_code == 201
        event = {
            "eventId": "hooked", "title": "Hooked", "description": "", "date": "2026-12-02",
            "location": "Hall", "capacity": 5, "organizer": "Org", "status": "active",
        }  # fmt: skip
        assert api.post(base + "/events", json=event).status_code == 201
        ticket = api.post(base + "/events/hooked/registrations", json={"userId": "bo"}).json()
        got = receiver.wait_for(1, timeout=30)

    assert got[0].verified
    assert got[0].body["type"] == "ticket.completed"
    assert got[0].body["data"]["ticketId"] == ticket["ticketId"]
    key_file = data_dir / "secret-key"
    assert key_file.stat().st_mode & 0o777 == 0o600  # the secret whose key seals the secrets
    user, password = flower_auth.split(":")
    flower = f"http://127.0.0.1:{flower_port}"
    deadline = time.monotonic() + 30
    seen: dict[str, object] = {}
    while time.monotonic() < deadline and not seen:
        tasks = requests.get(
            flower + "/api/tasks", params={"taskname": "tessera.deliver"},
            auth=(user, password), timeout=10,
        )  # fmt: skip
        assert tasks.status_code == 200
        seen = tasks.json()
        time.sleep(0.5)
    assert seen, "Flower shows no tessera.deliver task"
    workers = {str(task["worker"]) for task in seen.values()}  # type: ignore[index]
    assert all(name.startswith("tessera-webhooks-") for name in workers), workers


def test_no_secret_shows_in_any_command_line_or_in_the_output_of_up(started: Started) -> None:
    data_dir = started.data_dir
    secrets = {
        "the API key": ADMIN_KEY,
        "Flower's password": started.flower_auth.split(":", 1)[1],
        "the server secret": (data_dir / "secret-key").read_text().strip(),
        "PostgreSQL's password": (data_dir / "postgres-password").read_text().strip(),
        "Redis's password": (data_dir / "redis-password").read_text().strip(),
    }
    up_process = psutil.Process(started.pid)
    servers = [
        int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0]),
        json.loads((data_dir / "redis" / "redis.json").read_text())["pid"],
    ]
    family = [up_process, *up_process.children(recursive=True)]
    for pid in servers:
        family += [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    command_lines = {p.pid: " ".join(p.cmdline()) for p in family if p.is_running()}
    assert len(command_lines) >= 8  # up, gunicorn and its workers, celery x2, beat, flower, ...
    output = "".join(started.output)

    for what, secret in secrets.items():
        shown = [line for line in command_lines.values() if secret in line]
        assert shown == [], f"{what} is on a command line: {shown}"
        assert secret not in output, f"{what} is in the output of tessera up"
    assert "<redacted>" in output  # the database URL is still shown, without its password
    for name in ("secret-key", "postgres-password", "redis-password"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600


def test_up_keeps_the_terminal_quiet_and_every_process_logs_json_lines_to_the_data_dir(
    started: Started,
) -> None:
    with requests.Session() as api:  # closed: no idle connection delays the stop after this
        reply = _register_one(api, started.base)

    terminal = started.output + wait_for_line(started.process, "tickets applied", timeout=30)

    noisy = [line for line in terminal if '"msg":"request"' in line or "Sending due" in line]
    assert noisy == [], noisy
    assert any("full logs in" in line for line in started.output)
    logs = started.data_dir / "logs"

    def entries(name: str) -> list[dict[str, object]]:
        lines = (logs / f"{name}.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    api_log, worker_log, beat_log = entries("api"), entries("worker"), entries("beat")
    assert any(e["logger"] == "gunicorn.error" for e in api_log)
    requests_logged = {e.get("requestId") for e in api_log if e["msg"] == "request"}
    assert reply.headers["X-Request-ID"] in requests_logged
    assert any(str(e["logger"]).startswith("celery") for e in worker_log)
    assert any(str(e["logger"]).startswith("celery") for e in beat_log)
    passes = [e for e in worker_log if e["msg"] == "applied batch"]
    assert any(e.get("requestId") in requests_logged for e in passes), passes


def _register_one(api: requests.Session, base: str) -> requests.Response:
    api.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    assert api.post(base + "/users", json={"userId": "dee", "name": "Dee"}).ok
    event = {
        "eventId": "quiet", "title": "Quiet", "description": "", "date": "2026-12-03",
        "location": "Hall", "capacity": 5, "organizer": "Org", "status": "active",
    }  # fmt: skip
    assert api.post(base + "/events", json=event).status_code == 201
    reply = api.post(base + "/events/quiet/registrations", json={"userId": "dee"})
    assert reply.status_code == 202
    assert api.get(f"{base}/tickets/{reply.json()['ticketId']}?wait=10").ok
    return reply
