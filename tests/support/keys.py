"""RSA signing keys for the RS256 tests, generated once per test process (a 2048-bit key takes ~0.1 s)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey
    private_pem: str
    public_pem: str


@functools.cache
def rsa_pair(name: str, bits: int = 2048) -> KeyPair:
    """The test key called `name` (the same object for the same name within one run)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPair(
        private=key,
        private_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        public_pem=key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


def use_rs256(settings: Any, current: KeyPair, previous: KeyPair | None = None) -> None:
    """Configure (pytest-django's `settings` fixture) RS256 signing with `current`, `previous` verifying."""
    settings.JWT_PRIVATE_KEY = current.private_pem
    settings.JWT_PUBLIC_KEY = current.public_pem
    settings.JWT_PREVIOUS_PUBLIC_KEY = previous.public_pem if previous else ""
