"""Settings of who may call the API beyond configured keys: attendee tokens (JWTs from an
organizer's identity provider) and the limits that keep callers from hogging or guessing.

Declared and read with every other variable in `tessera.config.Environment`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_USER_CLAIM = "sub"


@dataclass(frozen=True)
class AuthSettings:
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_user_claim: str = DEFAULT_USER_CLAIM
    # Open SSE streams one key or one attendee may hold at once (over every API process).
    max_streams_per_principal: int = 100
    # Refused credentials per client address before it is throttled (`off` disables).
    auth_failure_limit: str = "300/minute"

    @property
    def attendee_tokens(self) -> bool:
        """Attendee tokens are accepted only when the provider is fully named: without an
        audience a token minted for any other application of the same provider would do."""
        return bool(self.jwt_issuer and self.jwt_jwks_url and self.jwt_audience)
