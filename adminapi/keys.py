"""The format of an admin API key: `cus_ab3k9x2m_<43 characters>`, the public prefix (`cus_` and 8
characters, unique, shown in lists and audit events) and then 256 random bits (URL-safe base64). Only the
SHA-256 hash of the whole key is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "cus_"
# Lowercase letters and digits without the look-alikes (l, o, 0, 1): prefixes are read and typed by people.
PREFIX_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
PREFIX_LENGTH = 8
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[{PREFIX_ALPHABET}]{{{PREFIX_LENGTH}}}_[A-Za-z0-9_-]{{43}}$")


def key_generate() -> tuple[str, str]:
    """(prefix, whole key)."""
    prefix = KEY_PREFIX + "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
