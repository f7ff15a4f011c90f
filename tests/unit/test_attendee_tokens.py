"""Attendee token verification (PyJWT against a JWKS file): what is accepted, every refusal the
contract lists, the per-token cache and the bounded refetching of the JWKS."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from api.tokens import InvalidToken, Jwks, TokenVerifier
from tessera.auth_settings import AuthSettings
from tests.attendee_tokens import (
    AUDIENCE,
    ISSUER,
    SigningKey,
    claims,
    ec_key,
    ed_key,
    rsa_key,
    write_jwks,
)

pytestmark = pytest.mark.unit

RSA = rsa_key()
EC = ec_key()
ED = ed_key()


def verifier(url: str, **changes: Any) -> TokenVerifier:
    settings = AuthSettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=url, **changes)
    return TokenVerifier(settings, Jwks(url))


@pytest.fixture
def jwks_url(tmp_path: Path) -> str:
    return write_jwks(tmp_path / "jwks.json", RSA, EC, ED)


@pytest.mark.parametrize("key", [RSA, EC, ED], ids=["RS256", "ES256", "EdDSA"])
def test_a_token_signed_by_a_key_of_the_jwks_names_its_user(jwks_url: str, key: SigningKey) -> None:
    assert verifier(jwks_url).user_of(key.sign(claims("ann"))) == "ann"


def test_the_user_claim_can_be_another_claim(jwks_url: str) -> None:
    token = RSA.sign(claims("someone-else", uid="bob"))
    assert verifier(jwks_url, jwt_user_claim="uid").user_of(token) == "bob"


def _unsigned(body: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': RSA.kid})}.{part(body)}."


def _hs256_with_the_public_key() -> str:
    public_pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": RSA.kid}
    signing_input = ".".join(
        base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
        for p in (header, claims("ann"))
    )
    import hashlib
    import hmac

    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _bad_signature() -> str:
    head, body, _ = RSA.sign(claims("ann")).split(".")
    other = rsa_key(RSA.kid).sign(claims("ann")).split(".")[2]
    return f"{head}.{body}.{other}"


now = int(time.time())
REFUSED = {
    "expired": lambda: RSA.sign(claims("ann", exp=now - 60)),
    "nbf in the future": lambda: RSA.sign(claims("ann", nbf=now + 300)),
    "no exp": lambda: RSA.sign({k: v for k, v in claims("ann").items() if k != "exp"}),
    "wrong iss": lambda: RSA.sign(claims("ann", iss="https://evil.example/")),
    "no iss": lambda: RSA.sign({k: v for k, v in claims("ann").items() if k != "iss"}),
    "wrong aud": lambda: RSA.sign(claims("ann", aud="another-app")),
    "no aud": lambda: RSA.sign({k: v for k, v in claims("ann").items() if k != "aud"}),
    "bad signature": _bad_signature,
    "alg none": lambda: _unsigned(claims("ann")),
    "HS256 keyed with the public key": _hs256_with_the_public_key,
    "unknown kid": lambda: rsa_key("nobody").sign(claims("ann")),
    "a known kid of another algorithm": lambda: SigningKey(EC.kid, "RS256", RSA.private).sign(
        claims("ann")
    ),
    "user claim missing": lambda: RSA.sign(claims(None)),
    "user claim not a userId": lambda: RSA.sign(claims("ann smith")),
    "user claim too long": lambda: RSA.sign(claims("a" * 65)),
    "user claim not a string": lambda: RSA.sign(claims(None, sub=42)),
    "not a JWT": lambda: "a.b.c",
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_a_token_failing_any_check_is_refused(jwks_url: str, make: Any) -> None:
    with pytest.raises(InvalidToken):
        verifier(jwks_url).user_of(make())


def test_a_verified_token_is_not_verified_again(jwks_url: str, monkeypatch: Any) -> None:
    tokens = verifier(jwks_url)
    token = EC.sign(claims("ann"))
    assert tokens.user_of(token) == "ann"
    calls: list[object] = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(a) or real(*a, **k))

    assert [tokens.user_of(token) for _ in range(5)] == ["ann"] * 5
    assert calls == []


def test_a_token_is_remembered_no_longer_than_its_exp(jwks_url: str, monkeypatch: Any) -> None:
    clock = [time.time()]
    settings = AuthSettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=jwks_url)
    tokens = TokenVerifier(settings, Jwks(jwks_url), clock=lambda: clock[0])
    token = RSA.sign(claims("ann", exp=int(clock[0]) + 30))
    assert tokens.user_of(token) == "ann"
    calls: list[object] = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(a) or real(*a, **k))

    clock[0] += 29
    tokens.user_of(token)
    assert calls == []  # still remembered
    clock[0] += 2  # past exp: verified again (and PyJWT's own clock decides)
    tokens.user_of(token)
    assert len(calls) == 1


def test_an_unknown_kid_fetches_the_jwks_again_but_not_more_than_once_per_interval(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jwks.json"
    url = write_jwks(path, RSA)
    clock = [1000.0]
    jwks = Jwks(url, refetch_seconds=10.0, clock=lambda: clock[0])
    settings = AuthSettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=url)
    tokens = TokenVerifier(settings, jwks)
    assert tokens.user_of(RSA.sign(claims("ann"))) == "ann"
    assert jwks.fetches == 1

    rotated = ec_key("rotated")
    write_jwks(path, RSA, rotated)
    for _ in range(20):  # made-up kids, all within the interval: no fetch
        with pytest.raises(InvalidToken):
            tokens.user_of(rsa_key("made-up").sign(claims("ann")))
    assert jwks.fetches == 1

    clock[0] += 10.0
    assert tokens.user_of(rotated.sign(claims("bob"))) == "bob"  # the new kid: fetched again
    assert jwks.fetches == 2


def test_a_jwks_that_cannot_be_read_keeps_the_keys_known(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    url = write_jwks(path, RSA)
    clock = [0.0]
    jwks = Jwks(url, refetch_seconds=1.0, max_age=5.0, clock=lambda: clock[0])
    assert jwks.key(RSA.kid) is not None

    path.write_text("not json")
    clock[0] += 6.0
    assert jwks.key(RSA.kid) is not None


def test_attendee_tokens_are_on_only_with_issuer_audience_and_jwks() -> None:
    from tessera.config import ConfigError, Settings

    assert not Settings.from_env({}).auth.attendee_tokens
    full = {
        "TESSERA_JWT_ISSUER": ISSUER,
        "TESSERA_JWT_AUDIENCE": AUDIENCE,
        "TESSERA_JWT_JWKS_URL": "file:///tmp/jwks.json",
    }
    assert Settings.from_env(full).auth.attendee_tokens
    for missing in full:
        with pytest.raises(ConfigError, match="TESSERA_JWT"):
            Settings.from_env({k: v for k, v in full.items() if k != missing})
    with pytest.raises(ConfigError, match="https"):
        Settings.from_env({**full, "TESSERA_JWT_JWKS_URL": "http://id.example/jwks"})
