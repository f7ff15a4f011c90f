"""Settings keep no secret in the clear and show none: keys as digests, bad entries named by
position, short keys refused, every secret redacted from the repr."""

from __future__ import annotations

import dataclasses

import pytest

from tessera.config import ConfigError, Settings, redact_url
from tessera.server_secret import owner_of

pytestmark = pytest.mark.unit

ADMIN_KEY = "an-admin-key-of-enough-length-01"
CLIENT_KEY = "a-client-key-of-enough-length-02"
SECRET = "a-server-secret-of-enough-length-0123456789"
ENV = {
    "TESSERA_API_KEYS": f"{ADMIN_KEY}:admin,{CLIENT_KEY}:client",
    "TESSERA_SECRET_KEY": SECRET,
    "TESSERA_FLOWER_AUTH": "ops:flower-password-123",
    "TESSERA_WEBHOOK_KEY": "a-webhook-key-0123456789",
    "DATABASE_URL": "postgresql://tessera:db-password-123@db:5432/tessera",
    "REDIS_URL": "redis://:redis-password-123@redis:6379/0",
}
SECRETS = (
    ADMIN_KEY,
    CLIENT_KEY,
    SECRET,
    "flower-password-123",
    "a-webhook-key-0123456789",
    "db-password-123",
    "redis-password-123",
)


def test_the_settings_repr_shows_no_secret() -> None:
    shown = repr(Settings.from_env(ENV))

    assert [secret for secret in SECRETS if secret in shown] == []
    assert "postgresql://tessera:<redacted>@db:5432/tessera" in shown
    assert "admin key-" in shown  # the keys are still there to see, by role and owner


def _every_value(value: object) -> list[object]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [v for f in dataclasses.fields(value) for v in _every_value(getattr(value, f.name))]
    if isinstance(value, tuple | list):
        return [v for item in value for v in _every_value(item)]
    return [value]


def test_the_settings_keep_only_digests_of_the_api_keys() -> None:
    settings = Settings.from_env(ENV)
    values = _every_value(settings.api_keys)

    assert not any(isinstance(v, str) and (ADMIN_KEY in v or CLIENT_KEY in v) for v in values)
    assert [(k.role, k.owner) for k in settings.api_keys] == [
        ("admin", owner_of(SECRET, ADMIN_KEY)),
        ("client", owner_of(SECRET, CLIENT_KEY)),
    ]


@pytest.mark.parametrize(
    "raw",
    [
        f"{ADMIN_KEY}:admin,{CLIENT_KEY}:root",
        f"{ADMIN_KEY}:admin,{CLIENT_KEY}",
        f"{ADMIN_KEY}:admin,{CLIENT_KEY}:",
    ],
)
def test_a_malformed_entry_is_named_by_its_position_never_echoed(raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"TESSERA_API_KEYS": raw, "TESSERA_SECRET_KEY": SECRET})

    assert "entry 2 of 2" in str(refused.value)
    assert CLIENT_KEY not in str(refused.value)
    assert "root" not in str(refused.value)


def test_a_key_shorter_than_24_characters_is_refused_by_its_position() -> None:
    short = "k" * 23
    with pytest.raises(ConfigError, match="entry 2 of 3 is too short") as refused:
        Settings.from_env(
            {
                "TESSERA_API_KEYS": f"{ADMIN_KEY}:admin,{short}:client,{CLIENT_KEY}:client",
                "TESSERA_SECRET_KEY": SECRET,
            }
        )
    assert short not in str(refused.value)
    Settings.from_env({"TESSERA_API_KEYS": "k" * 24 + ":admin", "TESSERA_SECRET_KEY": SECRET})


def test_a_short_server_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="TESSERA_SECRET_KEY") as refused:
        Settings.from_env({"TESSERA_SECRET_KEY": "too-short-secret"})
    assert "too-short-secret" not in str(refused.value)


def test_owners_depend_on_the_server_secret() -> None:
    assert owner_of(SECRET, ADMIN_KEY) != owner_of(SECRET + "x", ADMIN_KEY)
    assert owner_of(SECRET, ADMIN_KEY) != owner_of(SECRET, CLIENT_KEY)
    assert owner_of(SECRET, ADMIN_KEY).startswith("key-")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres:pw@127.0.0.1:5432/tessera", "postgresql://postgres:<redacted>@127.0.0.1:5432/tessera"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:<redacted>@127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)  # fmt: skip
def test_urls_are_printed_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
