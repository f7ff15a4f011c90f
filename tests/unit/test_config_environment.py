"""Every environment variable is declared once (`tessera.config.Environment`): a bad value is
refused naming its variable and never echoing it, secrets are SecretStr and may come from
`<NAME>_FILE`, and `tessera config` prints the effective settings with secrets redacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from tessera.config import (
    REDACTED,
    SECRET_VARIABLES,
    ConfigError,
    Environment,
    Settings,
    variable_names,
)
from tessera.tools.cli import main

pytestmark = pytest.mark.unit

SECRET = "a-server-secret-of-enough-length-0123456789"
ODD = "hunter2-not-a-number"


def test_every_variable_is_declared_once_with_a_type_default_and_description() -> None:
    names = variable_names()
    assert len(names) == len(set(names))
    assert all(name == "DATABASE_URL" or name.startswith(("TESSERA_", "REDIS_")) for name in names)
    for declared in Environment.model_fields.values():
        assert declared.description, declared.alias
        assert declared.annotation is not None
    assert set(SECRET_VARIABLES) == {
        "TESSERA_API_KEYS",
        "TESSERA_SECRET_KEY",
        "TESSERA_FLOWER_AUTH",
        "TESSERA_WEBHOOK_KEY",
    }


@pytest.mark.parametrize(
    "name",
    [
        "TESSERA_FLOWER_PORT",
        "TESSERA_WORKER_PROCESSES",
        "TESSERA_APPLY_BATCH_SIZE",
        "TESSERA_SWEEP_INTERVAL",
        "TESSERA_AUTH",
        "TESSERA_LOG_FORMAT",
        "TESSERA_WEBHOOK_ALLOW_PRIVATE",
        "TESSERA_MAX_STREAMS_PER_PRINCIPAL",
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_never_echoing_it(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({name: ODD})
    assert name in str(refused.value)
    assert ODD not in str(refused.value)


def test_out_of_range_numbers_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="TESSERA_FLOWER_PORT"):
        Settings.from_env({"TESSERA_FLOWER_PORT": "70000"})
    with pytest.raises(ConfigError, match="TESSERA_WORKER_PROCESSES"):
        Settings.from_env({"TESSERA_WORKER_PROCESSES": "0"})


def test_empty_values_are_the_defaults_and_typed_values_arrive_typed() -> None:
    assert Settings.from_env({"TESSERA_FLOWER_PORT": "", "TESSERA_AUTH": " "}) == Settings()
    settings = Settings.from_env(
        {
            "TESSERA_AUTH": "OFF",
            "TESSERA_FLOWER_PORT": "0",
            "TESSERA_SWEEP_INTERVAL": "0.5",
            "TESSERA_WEBHOOK_ALLOW_PRIVATE": "1",
            "TESSERA_LOG_FORMAT": "text",
            "TESSERA_CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert not settings.auth_enabled
    assert (settings.flower_port, settings.sweep_interval_seconds) == (0, 0.5)
    assert settings.webhook_allow_private
    assert not settings.log_json
    assert settings.cors_origins == ("https://a.example", "https://b.example")


def test_secrets_are_secret_strings_shown_nowhere() -> None:
    environment = Environment.load(
        {"TESSERA_SECRET_KEY": SECRET, "TESSERA_FLOWER_AUTH": "ops:flower-password-123"}
    )
    assert isinstance(environment.secret_key, SecretStr)
    assert SECRET not in repr(environment)
    assert SECRET not in str(environment.shown())
    assert "flower-password-123" not in str(environment.shown())
    assert {n: v for n, v, _ in environment.shown()}["TESSERA_SECRET_KEY"] == REDACTED


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "flower").write_text("ops:flower-password-123")

    settings = Settings.from_env(
        {
            "TESSERA_SECRET_KEY_FILE": str(tmp_path / "secret"),
            "TESSERA_FLOWER_AUTH_FILE": str(tmp_path / "flower"),
        }
    )

    assert settings.secret_key == SECRET
    assert settings.flower_auth == "ops:flower-password-123"


def test_a_secret_given_twice_or_in_an_unreadable_file_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET)
    with pytest.raises(ConfigError, match="TESSERA_SECRET_KEY or TESSERA_SECRET_KEY_FILE") as both:
        Settings.from_env(
            {"TESSERA_SECRET_KEY": SECRET, "TESSERA_SECRET_KEY_FILE": str(tmp_path / "secret")}
        )
    assert SECRET not in str(both.value)
    with pytest.raises(ConfigError, match="TESSERA_WEBHOOK_KEY_FILE cannot be read"):
        Settings.from_env({"TESSERA_WEBHOOK_KEY_FILE": str(tmp_path / "missing")})
    (tmp_path / "short").write_text("too-short")
    with pytest.raises(ConfigError, match="TESSERA_SECRET_KEY") as short:
        Settings.from_env({"TESSERA_SECRET_KEY_FILE": str(tmp_path / "short")})
    assert "too-short" not in str(short.value)


def test_only_secrets_have_file_variants() -> None:
    settings = Settings.from_env({"TESSERA_RATE_LIMIT_FILE": "/nonexistent"})
    assert settings.rate_limit == "100/second"


def test_tessera_config_prints_the_effective_settings_with_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TESSERA_SECRET_KEY", SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://tessera:db-password-123@db/tessera")
    monkeypatch.setenv("TESSERA_WORKER_PROCESSES", "4")

    shown = CliRunner().invoke(main, ["config"])

    assert shown.exit_code == 0, shown.output
    lines = {line.split("=", 1)[0]: line for line in shown.output.splitlines()}
    assert set(lines) == set(variable_names())
    assert lines["TESSERA_WORKER_PROCESSES"].startswith("TESSERA_WORKER_PROCESSES=4  # ")
    assert lines["TESSERA_SECRET_KEY"].startswith(f"TESSERA_SECRET_KEY={REDACTED}")
    assert "db-password-123" not in shown.output
    assert SECRET not in shown.output


def test_tessera_config_names_a_bad_variable_and_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_FLOWER_PORT", ODD)
    shown = CliRunner().invoke(main, ["config"])
    assert shown.exit_code != 0
    assert "TESSERA_FLOWER_PORT" in shown.output
    assert ODD not in shown.output
