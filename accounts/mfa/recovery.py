"""Recovery codes: shown once, stored only as keyed hashes.

allauth derives its codes from a stored seed, so whoever reads the database can compute them; here each
code is random (10 characters from a 31-letter alphabet, about 50 bits) and only its HMAC (keyed by
SECRET_KEY, salted with the user id) is kept. Typing is forgiving: case, spaces and dashes are ignored
(allauth's normalisation).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from typing import Any

from allauth.core.internal.cryptokit import normalize_user_code
from django.conf import settings
from django.utils.crypto import salted_hmac

# No 0/o, 1/i/l or u: nothing to misread when typed from paper.
ALPHABET = "abcdefghjkmnpqrstvwxyz23456789"
LENGTH = 10
_KEY_SALT = "accounts.mfa.recovery-code"


def codes_new() -> list[str]:
    """Fresh codes, formatted `xxxxx-xxxxx`."""
    codes = []
    for _ in range(settings.MFA_RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _hash(user_id: uuid.UUID, code: str, key: str) -> str:
    value = f"{user_id}|{normalize_user_code(code)}"
    return salted_hmac(_KEY_SALT, value, secret=key, algorithm="sha256").hexdigest()


def code_hash(user_id: uuid.UUID, code: str) -> str:
    return _hash(user_id, code, settings.SECRET_KEY)


def code_index(hashes: list[str], user_id: uuid.UUID, code: str) -> int | None:
    """The position of `code` among the stored hashes, or None. Hashes made with a key now in
    SECRET_KEY_FALLBACKS still match."""
    if len(normalize_user_code(code)) != LENGTH:
        return None
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        candidate = _hash(user_id, code, key)
        for index, stored in enumerate(hashes):
            if hmac.compare_digest(candidate, stored):
                return index
    return None


def codes_left(data: dict[str, Any]) -> int:
    """Unused codes of a recovery-codes authenticator's data ({"hashes": [...], "used_mask": bits})."""
    return len(data.get("hashes", [])) - int(data.get("used_mask", 0)).bit_count()
