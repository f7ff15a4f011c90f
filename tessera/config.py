"""Settings read from the environment once, at start-up, into one immutable value.

The only reader of Tessera's environment variables: the API, the workers, the Celery
configuration (`celeryconfig.py`) and the tools all take their settings from here.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from tessera.auth_settings import AuthSettings
from tessera.server_secret import MIN_SECRET_LENGTH, owner_of

DEFAULT_DATA_DIR = Path(".tessera")
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (5.0, 30.0, 120.0, 600.0, 3600.0, 21600.0)
MIN_WEBHOOK_KEY_LENGTH = 16
MIN_API_KEY_LENGTH = 24
REDACTED = "<redacted>"


class ConfigError(ValueError):
    """A setting is present but cannot be understood."""


def key_digest(key: str) -> bytes:
    """How a configured key is held in memory: its SHA-256, compared in constant time."""
    return hashlib.sha256(key.encode("utf-8")).digest()


@dataclass(frozen=True)
class ApiKey:
    """A configured key as the settings keep it: never the key itself, only its digest (to
    recognise it), its role, and its owner (a keyed derivation, see tessera/server_secret.py)."""

    digest: bytes = field(repr=False)
    role: str  # "admin" | "client"
    owner: str

    @classmethod
    def of(cls, key: str, role: str, secret_key: str) -> ApiKey:
        return cls(key_digest(key), role, owner_of(secret_key, key))


def parse_api_keys(raw: str, secret_key: str | None) -> tuple[ApiKey, ...]:
    """Parse `key1:admin,key2:client`. A bad entry is named by its position, never echoed.

    Without a server secret the owners are derived from a throw-away one: such keys cannot
    serve (the API refuses to start without TESSERA_SECRET_KEY), but the processes that never
    authenticate anyone (workers, beat, the tools) still read the rest of their settings."""
    derive_with = secret_key or secrets.token_urlsafe(MIN_SECRET_LENGTH)
    keys: list[ApiKey] = []
    entries = [p.strip() for p in raw.split(",")]
    for position, part in enumerate(entries, start=1):
        if not part:
            continue
        key, sep, role = part.rpartition(":")
        if not sep or not key or role not in {"admin", "client"}:
            raise ConfigError(
                f"TESSERA_API_KEYS entry {position} of {len(entries)} must look like "
                "KEY:admin or KEY:client"
            )
        if len(key) < MIN_API_KEY_LENGTH:
            raise ConfigError(
                f"TESSERA_API_KEYS entry {position} of {len(entries)} is too short: keys must "
                f"be at least {MIN_API_KEY_LENGTH} characters of random text"
            )
        keys.append(ApiKey.of(key, role, derive_with))
    return tuple(keys)


def parse_secret_key(raw: str) -> str | None:
    secret = raw.strip()
    if secret and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"TESSERA_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters of random text"
        )
    return secret or None


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and output."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}"))


def parse_retry_schedule(raw: str) -> tuple[float, ...]:
    """`5,30,120`: the waits in seconds before each retry of a failed webhook delivery."""
    waits: list[float] = []
    for part in (p.strip() for p in raw.split(",")):
        try:
            wait = float(part)
        except ValueError:
            wait = -1.0
        if not 0 < wait < 10**7:  # also refuses nan and inf
            raise ConfigError(
                "TESSERA_WEBHOOK_RETRY_SCHEDULE must be positive seconds separated by commas "
                f"(got {part!r})"
            )
        waits.append(wait)
    return tuple(waits)


def parse_webhook_keys(raw: str) -> tuple[str, ...]:
    """`new-key,old-key`: the first seals webhook secrets, every one can open them (rotation)."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if any(len(key) < MIN_WEBHOOK_KEY_LENGTH for key in keys):
        raise ConfigError(
            f"each TESSERA_WEBHOOK_KEY must be at least {MIN_WEBHOOK_KEY_LENGTH} characters "
            "of random text"
        )
    return keys


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    api_keys: tuple[ApiKey, ...] = ()
    secret_key: str | None = None
    auth_enabled: bool = True
    rate_limit: str = "100/second"
    cors_origins: tuple[str, ...] = ()
    worker_processes: int = 2
    flower_port: int = 5555
    flower_auth: str | None = None
    apply_batch_size: int = 500
    sweep_interval_seconds: float = 2.0
    sweep_min_age_seconds: float = 2.0
    offer_check_interval_seconds: float = 1.0
    visibility_timeout_seconds: int = 60
    max_body_bytes: int = 4 * 1024 * 1024
    max_streams: int = 2000
    log_json: bool = True
    webhook_keys: tuple[str, ...] = ()
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_concurrency: int = 8
    auth: AuthSettings = field(default_factory=AuthSettings)
    extra: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown: list[str] = []
        for each in fields(self):
            value = getattr(self, each.name)
            if each.name in _SECRET_FIELDS and value:
                value = REDACTED
            elif each.name in _URL_FIELDS and value:
                value = redact_url(value)
            elif each.name == "api_keys":
                value = tuple(f"{k.role} {k.owner}" for k in value)
            shown.append(f"{each.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            secret_key = parse_secret_key(env.get("TESSERA_SECRET_KEY", ""))
            return cls(
                database_url=env.get("DATABASE_URL") or None,
                redis_url=env.get("REDIS_URL") or None,
                data_dir=Path(env.get("TESSERA_DATA_DIR", str(DEFAULT_DATA_DIR))),
                api_keys=parse_api_keys(env.get("TESSERA_API_KEYS", ""), secret_key),
                secret_key=secret_key,
                auth_enabled=env.get("TESSERA_AUTH", "on").strip().lower() != "off",
                rate_limit=env.get("TESSERA_RATE_LIMIT", "100/second").strip(),
                cors_origins=tuple(
                    o.strip() for o in env.get("TESSERA_CORS_ORIGINS", "").split(",") if o.strip()
                ),
                worker_processes=int(env.get("TESSERA_WORKER_PROCESSES", "2")),
                flower_port=int(env.get("TESSERA_FLOWER_PORT", "5555")),
                flower_auth=env.get("TESSERA_FLOWER_AUTH") or None,
                apply_batch_size=int(env.get("TESSERA_APPLY_BATCH_SIZE", "500")),
                sweep_interval_seconds=float(env.get("TESSERA_SWEEP_INTERVAL", "2")),
                sweep_min_age_seconds=float(env.get("TESSERA_SWEEP_MIN_AGE", "2")),
                offer_check_interval_seconds=float(env.get("TESSERA_OFFER_CHECK_INTERVAL", "1")),
                visibility_timeout_seconds=int(env.get("TESSERA_VISIBILITY_TIMEOUT", "60")),
                max_body_bytes=int(env.get("TESSERA_MAX_BODY_BYTES", str(4 * 1024 * 1024))),
                max_streams=int(env.get("TESSERA_MAX_STREAMS", "2000")),
                log_json=env.get("TESSERA_LOG_FORMAT", "json") == "json",
                webhook_keys=parse_webhook_keys(env.get("TESSERA_WEBHOOK_KEY", "")),
                webhook_allow_private=env.get("TESSERA_WEBHOOK_ALLOW_PRIVATE", "") == "1",
                webhook_retry_schedule=(
                    parse_retry_schedule(env["TESSERA_WEBHOOK_RETRY_SCHEDULE"])
                    if env.get("TESSERA_WEBHOOK_RETRY_SCHEDULE", "").strip()
                    else DEFAULT_WEBHOOK_RETRY_SCHEDULE
                ),
                webhook_concurrency=int(env.get("TESSERA_WEBHOOK_WORKERS", "8")),
                auth=AuthSettings.from_env(env),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


_SECRET_FIELDS = frozenset({"secret_key", "flower_auth", "webhook_keys"})
_URL_FIELDS = frozenset({"database_url", "redis_url"})
