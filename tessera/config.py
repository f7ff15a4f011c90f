"""Settings read from the environment once, at start-up, into one immutable value.

The only reader of Tessera's environment variables: the API, the workers, the Celery
configuration (`celeryconfig.py`) and the tools all take their settings from here. Each
variable is declared once, with its type, default and meaning, in `Environment` (a
pydantic-settings model: `tessera config` prints it); `Settings` is what the processes hold
(API keys as digests, secrets never in a repr).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tessera.auth_settings import DEFAULT_USER_CLAIM, AuthSettings
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


# --- the environment, declared once ---------------------------------------------------------


def _lowered(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _secret(alias: str, description: str) -> Any:
    return Field(None, alias=alias, description=f"{description} Secret; or {alias}_FILE.")


Lowered = BeforeValidator(_lowered)


class Environment(BaseSettings):
    """Every environment variable Tessera reads: name (the alias), type, default, meaning.

    A value that does not fit its type is refused with a ConfigError naming the variable and
    never echoing the value. An empty value is the same as an unset one. Each secret may come
    from a file instead (`TESSERA_SECRET_KEY_FILE=/run/secrets/...`, the Docker and Kubernetes
    way): giving both is an error."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, str_strip_whitespace=True
    )

    database_url: str | None = Field(
        None,
        alias="DATABASE_URL",
        description="PostgreSQL URL; unset: the embedded server of the data dir.",
    )
    redis_url: str | None = Field(
        None, alias="REDIS_URL", description="Redis URL; unset: the embedded server."
    )
    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        alias="TESSERA_DATA_DIR",
        description="Where embedded servers and generated secrets live.",
    )
    api_keys: SecretStr | None = _secret(
        "TESSERA_API_KEYS", "`key:admin,key2:client`, keys of 24+ characters."
    )
    secret_key: SecretStr | None = _secret(
        "TESSERA_SECRET_KEY", "Server secret (32+ characters): keys' owners, webhook sealing."
    )
    auth: Annotated[Literal["on", "off"], Lowered] = Field(
        "on", alias="TESSERA_AUTH", description="`off` disables auth (development only)."
    )
    rate_limit: str = Field(
        "100/second",
        alias="TESSERA_RATE_LIMIT",
        description="Requests per key or attendee, e.g. `100/second`; `off` disables.",
    )
    cors_origins: str = Field(
        "", alias="TESSERA_CORS_ORIGINS", description="Comma-separated allowed origins."
    )
    worker_processes: int = Field(
        2, ge=1, alias="TESSERA_WORKER_PROCESSES", description="Worker pool size."
    )
    flower_port: int = Field(
        5555, ge=0, le=65535, alias="TESSERA_FLOWER_PORT", description="Flower's port; 0: off."
    )
    flower_auth: SecretStr | None = _secret(
        "TESSERA_FLOWER_AUTH", "Flower's basic auth, `user:password`."
    )
    apply_batch_size: int = Field(
        500, ge=1, alias="TESSERA_APPLY_BATCH_SIZE", description="Tickets per transaction."
    )
    sweep_interval: float = Field(
        2.0, gt=0, alias="TESSERA_SWEEP_INTERVAL", description="Sweeper period (s)."
    )
    sweep_min_age: float = Field(
        2.0, ge=0, alias="TESSERA_SWEEP_MIN_AGE", description="Age of a stale ticket (s)."
    )
    offer_check_interval: float = Field(
        1.0,
        gt=0,
        alias="TESSERA_OFFER_CHECK_INTERVAL",
        description="How often beat looks for offers past their end (s).",
    )
    visibility_timeout: int = Field(
        60,
        ge=1,
        alias="TESSERA_VISIBILITY_TIMEOUT",
        description="Seconds before an unacknowledged task is redelivered.",
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1,
        alias="TESSERA_MAX_BODY_BYTES",
        description="Largest request body (413 beyond).",
    )
    max_streams: int = Field(
        2000, ge=1, alias="TESSERA_MAX_STREAMS", description="Open update streams per process."
    )
    log_format: Annotated[Literal["json", "text"], Lowered] = Field(
        "json", alias="TESSERA_LOG_FORMAT", description="Log lines as JSON or text."
    )
    webhook_key: SecretStr | None = _secret(
        "TESSERA_WEBHOOK_KEY",
        "Seals webhook secrets at rest (`new,old` to rotate); else TESSERA_SECRET_KEY.",
    )
    webhook_allow_private: bool = Field(
        False,
        alias="TESSERA_WEBHOOK_ALLOW_PRIVATE",
        description="`1` lets webhooks reach private addresses (local testing).",
    )
    webhook_retry_schedule: str = Field(
        ",".join(f"{wait:g}" for wait in DEFAULT_WEBHOOK_RETRY_SCHEDULE),
        alias="TESSERA_WEBHOOK_RETRY_SCHEDULE",
        description="Waits before each webhook retry (s), comma-separated.",
    )
    webhook_workers: int = Field(
        8, ge=1, alias="TESSERA_WEBHOOK_WORKERS", description="Sender threads per worker."
    )
    jwt_issuer: str | None = Field(
        None, alias="TESSERA_JWT_ISSUER", description="Attendee tokens: the provider's issuer."
    )
    jwt_audience: str | None = Field(
        None, alias="TESSERA_JWT_AUDIENCE", description="Attendee tokens: Tessera's audience."
    )
    jwt_jwks_url: str | None = Field(
        None,
        alias="TESSERA_JWT_JWKS_URL",
        description="Attendee tokens: the provider's JWKS (`https://` or `file://`).",
    )
    jwt_user_claim: str = Field(
        DEFAULT_USER_CLAIM,
        alias="TESSERA_JWT_USER_CLAIM",
        description="The token claim holding the attendee's userId.",
    )
    max_streams_per_principal: int = Field(
        100,
        ge=1,
        alias="TESSERA_MAX_STREAMS_PER_PRINCIPAL",
        description="Open update streams per key or attendee (429 beyond).",
    )
    auth_failure_limit: str = Field(
        "300/minute",
        alias="TESSERA_AUTH_FAILURE_LIMIT",
        description="Refused credentials per client address before 429; `off` disables.",
    )

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Environment:
        """The declared variables of `env` (`os.environ` unless given), files of secrets read."""
        env = os.environ if env is None else env
        values: dict[str, str] = {}
        for name in variable_names():
            raw = _value_of(env, name)
            if raw is not None and raw.strip():
                values[name] = raw
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigError(_described(error)) from None

    def settings(self) -> Settings:
        secret_key = parse_secret_key(_revealed(self.secret_key))
        return Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            data_dir=self.data_dir,
            api_keys=parse_api_keys(_revealed(self.api_keys), secret_key),
            secret_key=secret_key,
            auth_enabled=self.auth == "on",
            rate_limit=self.rate_limit,
            cors_origins=tuple(o.strip() for o in self.cors_origins.split(",") if o.strip()),
            worker_processes=self.worker_processes,
            flower_port=self.flower_port,
            flower_auth=_revealed(self.flower_auth) or None,
            apply_batch_size=self.apply_batch_size,
            sweep_interval_seconds=self.sweep_interval,
            sweep_min_age_seconds=self.sweep_min_age,
            offer_check_interval_seconds=self.offer_check_interval,
            visibility_timeout_seconds=self.visibility_timeout,
            max_body_bytes=self.max_body_bytes,
            max_streams=self.max_streams,
            log_json=self.log_format == "json",
            webhook_keys=parse_webhook_keys(_revealed(self.webhook_key)),
            webhook_allow_private=self.webhook_allow_private,
            webhook_retry_schedule=parse_retry_schedule(self.webhook_retry_schedule),
            webhook_concurrency=self.webhook_workers,
            auth=self._auth(),
        )

    def _auth(self) -> AuthSettings:
        named = [v for v in (self.jwt_issuer, self.jwt_audience, self.jwt_jwks_url) if v]
        if named and len(named) != 3:
            raise ConfigError(
                "attendee tokens need all of TESSERA_JWT_ISSUER, TESSERA_JWT_AUDIENCE and "
                "TESSERA_JWT_JWKS_URL (or none of them)"
            )
        if self.jwt_jwks_url and not self.jwt_jwks_url.startswith(("https://", "file://")):
            raise ConfigError("TESSERA_JWT_JWKS_URL must be an https:// or file:// URL")
        return AuthSettings(
            jwt_issuer=self.jwt_issuer,
            jwt_audience=self.jwt_audience,
            jwt_jwks_url=self.jwt_jwks_url,
            jwt_user_claim=self.jwt_user_claim,
            max_streams_per_principal=self.max_streams_per_principal,
            auth_failure_limit=self.auth_failure_limit,
        )

    def shown(self) -> list[tuple[str, str, str]]:
        """(variable, effective value, meaning) of each, secrets redacted: `tessera config`."""
        rows: list[tuple[str, str, str]] = []
        for name, declared in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = REDACTED
            elif value is None:
                text = ""
            elif name in {"database_url", "redis_url"}:
                text = redact_url(str(value))
            else:
                text = str(value)
            rows.append((declared.alias or name, text, declared.description or ""))
        return rows


SECRET_VARIABLES = tuple(
    declared.alias or name
    for name, declared in Environment.model_fields.items()
    if SecretStr in typing.get_args(declared.annotation)
)


def variable_names() -> list[str]:
    return [declared.alias or name for name, declared in Environment.model_fields.items()]


def _value_of(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or for a secret the contents of the file `<name>_FILE` names."""
    path = env.get(f"{name}_FILE", "").strip() if name in SECRET_VARIABLES else ""
    if not path:
        return env.get(name)
    if env.get(name, "").strip():
        raise ConfigError(f"set {name} or {name}_FILE, not both")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{name}_FILE cannot be read ({error.__class__.__name__})") from None


def _revealed(secret: SecretStr | None) -> str:
    return secret.get_secret_value().strip() if secret is not None else ""


def _described(error: ValidationError) -> str:
    """Each bad variable by name with what is wrong, never its value."""
    problems = []
    for each in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in each["loc"])
        problems.append(f"{name}: {each['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


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
        """The settings of this environment (`os.environ` unless given), every variable read
        and checked by its declaration (`Environment`); ConfigError names a bad one."""
        return Environment.load(env).settings()


_SECRET_FIELDS = frozenset({"secret_key", "flower_auth", "webhook_keys"})
_URL_FIELDS = frozenset({"database_url", "redis_url"})
