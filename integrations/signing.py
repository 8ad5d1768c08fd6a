"""Endpoint secrets (generated, encrypted at rest) and Standard Webhooks signatures.

A secret is `whsec_` + base64 of 32 random bytes, the format the Standard Webhooks libraries read. It is
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived by HKDF from
WEBHOOKS_SECRET_KEY (SECRET_KEY by default): signing needs the plaintext, and the derived key lives in the
environment, not in the database or its backups. WEBHOOKS_SECRET_KEY_FALLBACKS still decrypt after that key
is changed; rotating an endpoint's secret re-encrypts it under the current key.
"""

from __future__ import annotations

import base64
import functools
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations.models import WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(Exception):
    """The stored secret does not decrypt under WEBHOOKS_SECRET_KEY or any of its fallbacks."""


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _derive(key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"custodian.webhooks.secret").derive(
        key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


@functools.lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(key) for key in keys])


def _current_box() -> MultiFernet:
    return _box((settings.WEBHOOKS_SECRET_KEY, *settings.WEBHOOKS_SECRET_KEY_FALLBACKS))


def encrypt(secret: str) -> str:
    return _current_box().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current_box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the endpoint secret does not decrypt: was WEBHOOKS_SECRET_KEY changed?")


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """The current secret, then the previous one while its grace period lasts."""
    now = now or timezone.now()
    found = [decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        found.append(decrypt(endpoint.previous_secret_encrypted))
    return found


def headers(*, secrets_: list[str], webhook_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers; one `v1,<base64>` signature per secret, space-separated (a
    receiver accepts the message if any signature matches its secret)."""
    signatures = [Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets_]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
