"""Webhook signing (Standard Webhooks) and the sealing of secrets at rest."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tessera.config import ConfigError, Settings, parse_retry_schedule
from tessera.webhook_secrets import (
    SECRET_PREFIX,
    SecretBox,
    SecretUnavailable,
    new_secret,
    sign,
    signing_key,
)

pytestmark = pytest.mark.unit

# The test vector published with the Standard Webhooks specification (and its libraries' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_published_test_vector_is_reproduced() -> None:
    signature = sign(signing_key(VECTOR_SECRET), VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY)

    assert signature == VECTOR_SIGNATURE


def test_the_reference_library_signs_the_vector_the_same_way() -> None:
    at = dt.datetime.fromtimestamp(VECTOR_TIMESTAMP, dt.UTC)
    assert Webhook(VECTOR_SECRET).sign(VECTOR_ID, at, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_new_secret_is_whsec_and_32_random_bytes_that_the_library_verifies_with() -> None:
    secret = new_secret()
    body = json.dumps({"type": "ticket.completed", "data": {}}).encode()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(signing_key(secret), "msg_1", now, body),
    }

    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert new_secret() != secret
    assert Webhook(secret).verify(body, headers) == {"type": "ticket.completed", "data": {}}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_a_sealed_secret_opens_only_for_its_own_webhook_and_with_the_key() -> None:
    box = SecretBox(["a-long-random-webhook-key"])
    secret = new_secret()
    sealed = box.seal("01JWEBHOOK00000000000000001", secret)

    assert box.open("01JWEBHOOK00000000000000001", sealed) == secret
    assert secret.encode() not in sealed
    assert secret.removeprefix(SECRET_PREFIX).encode() not in sealed
    assert signing_key(secret) not in sealed
    with pytest.raises(SecretUnavailable):
        box.open("01JWEBHOOK00000000000000002", sealed)  # copied onto another row
    with pytest.raises(SecretUnavailable):
        SecretBox(["another-long-random-key"]).open("01JWEBHOOK00000000000000001", sealed)
    with pytest.raises(SecretUnavailable):
        SecretBox([]).open("01JWEBHOOK00000000000000001", sealed)
    assert box.seal("01JWEBHOOK00000000000000001", secret) != sealed  # a fresh nonce each time


def test_a_rotated_key_still_opens_what_the_old_key_sealed_and_seals_with_the_new_one() -> None:
    old = SecretBox(["the-old-webhook-key-123"])
    rotated = SecretBox(["the-new-webhook-key-456", "the-old-webhook-key-123"])
    secret = new_secret()

    assert rotated.open("w", old.seal("w", secret)) == secret
    with pytest.raises(SecretUnavailable):
        old.open("w", rotated.seal("w", secret))


def test_without_a_key_nothing_can_be_sealed() -> None:
    box = SecretBox([])
    assert not box.can_seal
    with pytest.raises(SecretUnavailable):
        box.seal("w", new_secret())


def test_the_webhook_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "TESSERA_WEBHOOK_KEY": "new-key-0123456789, old-key-0123456789",
            "TESSERA_WEBHOOK_ALLOW_PRIVATE": "1",
            "TESSERA_WEBHOOK_RETRY_SCHEDULE": "1, 2.5,60",
        }
    )
    defaults = Settings.from_env({})

    assert settings.webhook_keys == ("new-key-0123456789", "old-key-0123456789")
    assert settings.webhook_allow_private
    assert settings.webhook_retry_schedule == (1.0, 2.5, 60.0)
    assert defaults.webhook_keys == ()
    assert not defaults.webhook_allow_private
    assert defaults.webhook_retry_schedule == (5, 30, 120, 600, 3600, 21600)


@pytest.mark.parametrize("raw", ["0", "-5", "5,,30", "five", "nan", "inf", "1e9"])
def test_a_retry_schedule_of_anything_but_positive_seconds_is_a_configuration_error(
    raw: str,
) -> None:
    with pytest.raises(ConfigError, match="TESSERA_WEBHOOK_RETRY_SCHEDULE"):
        parse_retry_schedule(raw)


def test_a_short_webhook_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="TESSERA_WEBHOOK_KEY"):
        Settings.from_env({"TESSERA_WEBHOOK_KEY": "short"})


SERVER_SECRET = "a-server-secret-of-enough-length-0123456789"


def test_the_server_secret_seals_when_no_webhook_key_is_configured() -> None:
    box = SecretBox.for_settings((), SERVER_SECRET)
    sealed = box.seal("01JWEBHOOK00000000000000001", "whsec_abc")

    assert box.open("01JWEBHOOK00000000000000001", sealed) == "whsec_abc"
    with pytest.raises(SecretUnavailable):
        SecretBox.for_settings((), SERVER_SECRET + "x").open("01JWEBHOOK00000000000000001", sealed)


def test_secrets_sealed_with_a_webhook_key_stay_readable_beside_the_server_secret() -> None:
    before = SecretBox(["the-old-webhook-key-123"]).seal("01JWEBHOOK00000000000000001", "whsec_a")
    upgraded = SecretBox.for_settings(("the-old-webhook-key-123",), SERVER_SECRET)
    sealed_after = upgraded.seal("01JWEBHOOK00000000000000002", "whsec_b")

    assert upgraded.open("01JWEBHOOK00000000000000001", before) == "whsec_a"
    # while TESSERA_WEBHOOK_KEY is set it still seals, so a rollback can read new secrets too
    old_only = SecretBox(["the-old-webhook-key-123"])
    assert old_only.open("01JWEBHOOK00000000000000002", sealed_after) == "whsec_b"
