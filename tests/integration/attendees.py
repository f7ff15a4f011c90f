"""An API that accepts attendee tokens as well as keys: a JWKS file made in the test, served by
`file://`, and tokens minted with its keys (`tests.attendee_tokens`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tessera.auth_settings import AuthSettings
from tessera.config import Settings
from tests.attendee_tokens import AUDIENCE, ISSUER, SigningKey, claims, ec_key, write_jwks
from tests.integration.conftest import AppFactory

SIGNER = ec_key("attendee-signer")


def token_for(user_id: str, key: SigningKey = SIGNER) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.sign(claims(user_id))}"}


def with_attendees(settings: Settings, jwks_url: str, **auth: object) -> Settings:
    config = AuthSettings(
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=jwks_url,
        **auth,  # type: ignore[arg-type]
    )
    return Settings(**{**settings.__dict__, "auth": config})


@pytest.fixture
def jwks_url(tmp_path: Path) -> str:
    return write_jwks(tmp_path / "jwks.json", SIGNER)


@pytest.fixture
def attendee_app(api_app: AppFactory, settings: Settings, jwks_url: str) -> Flask:
    return api_app(with_attendees(settings, jwks_url))
