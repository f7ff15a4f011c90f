"""Settings of who may call the API beyond configured keys: attendee tokens (JWTs from an
organizer's identity provider) and the limits that keep callers from hogging or guessing.

Read from the environment by `tessera.config.Settings.from_env` (the one reader of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_USER_CLAIM = "sub"


@dataclass(frozen=True)
class AuthSettings:
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_user_claim: str = DEFAULT_USER_CLAIM
    # Open SSE streams one key or one attendee may hold at once (over every API process).
    max_streams_per_principal: int = 10
    # Refused credentials per client address before it is throttled (`off` disables).
    auth_failure_limit: str = "300/minute"

    @property
    def attendee_tokens(self) -> bool:
        """Attendee tokens are accepted only when the provider is fully named: without an
        audience a token minted for any other application of the same provider would do."""
        return bool(self.jwt_issuer and self.jwt_jwks_url and self.jwt_audience)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        from tessera.config import ConfigError

        issuer = env.get("TESSERA_JWT_ISSUER", "").strip() or None
        audience = env.get("TESSERA_JWT_AUDIENCE", "").strip() or None
        jwks_url = env.get("TESSERA_JWT_JWKS_URL", "").strip() or None
        named = [v for v in (issuer, audience, jwks_url) if v]
        if named and len(named) != 3:
            raise ConfigError(
                "attendee tokens need all of TESSERA_JWT_ISSUER, TESSERA_JWT_AUDIENCE and "
                "TESSERA_JWT_JWKS_URL (or none of them)"
            )
        if jwks_url and not jwks_url.startswith(("https://", "file://")):
            raise ConfigError("TESSERA_JWT_JWKS_URL must be an https:// or file:// URL")
        streams = int(env.get("TESSERA_MAX_STREAMS_PER_PRINCIPAL", "10"))
        if streams < 1:
            raise ConfigError("TESSERA_MAX_STREAMS_PER_PRINCIPAL must be at least 1")
        return cls(
            jwt_issuer=issuer,
            jwt_audience=audience,
            jwt_jwks_url=jwks_url,
            jwt_user_claim=env.get("TESSERA_JWT_USER_CLAIM", "").strip() or DEFAULT_USER_CLAIM,
            max_streams_per_principal=streams,
            auth_failure_limit=env.get("TESSERA_AUTH_FAILURE_LIMIT", "300/minute").strip(),
        )
