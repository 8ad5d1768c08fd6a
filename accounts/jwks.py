"""The keys that sign and verify Custodian's JWTs, and what other services verify access tokens with.

Keys come from settings, are parsed once per process (a PEM parse costs more than a whole request) and each
carries its `kid` and its algorithm: RS256 for RSA keys, HS256 for a shared secret. Verification pins the
algorithm of the key a token's `kid` names, never the one its header asks for. The public JWK set lists the
current and previous RSA public keys; with an HS256 current key there is none (docs/integration.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from jwt.algorithms import RSAAlgorithm
from ninja_jwt import settings as ninja_jwt_settings

RS256 = "RS256"
HS256 = "HS256"
MIN_RSA_BITS = 2048
JWKS_PATH = "/.well-known/jwks.json"
KEY_SETTINGS = frozenset(
    {
        "JWT_PRIVATE_KEY",
        "JWT_PUBLIC_KEY",
        "JWT_SIGNING_KEY",
        "JWT_PREVIOUS_PUBLIC_KEY",
        "JWT_PREVIOUS_SIGNING_KEY",
    }
)
# RFC 7638 §3.2: the members a thumbprint covers, per key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the kid of an asymmetric key."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


@functools.lru_cache(maxsize=16)
def _header_segment(algorithm: str, kid: str) -> str:
    # The first segment of every token PyJWT signs with this key (sorted, compact JSON): lets a decode find
    # the key without parsing the header. A token whose header differs takes the parsing path.
    header = {"alg": algorithm, "kid": kid, "typ": "JWT"}
    return _b64(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    verifying_key: Any  # RSAPublicKey, or the HS256 secret
    signing_key: Any = None  # RSAPrivateKey or the secret; None for a key that only verifies
    jwk: dict[str, str] | None = None  # the public JWK (RSA keys only)

    @property
    def header_segment(self) -> str:
        return _header_segment(self.algorithm, self.kid)


@dataclass(frozen=True)
class KeyRing:
    current: Key
    previous: tuple[Key, ...] = ()
    by_kid: dict[str, Key] = field(default_factory=dict)
    by_header: dict[str, Key] = field(default_factory=dict)
    jwks: bytes | None = None  # the JWK set document; None when the current key is a shared secret

    def candidates(self, kid: object) -> tuple[Key, ...]:
        """The keys a token may be verified with. A token without `kid` was issued before tokens carried one
        (at most REFRESH_TOKEN_DAYS before the upgrade): it is tried with each key, as before. An unknown
        kid matches nothing."""
        if kid is None:
            return (self.current, *self.previous)
        key = self.by_kid.get(kid) if isinstance(kid, str) else None
        return (key,) if key is not None else ()


def _load_private(pem: str, name: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ImproperlyConfigured(f"{name} is not an unencrypted PEM private key: {exc}")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured(f"{name} must be an RSA key (tokens are signed with RS256).")
    if key.key_size < MIN_RSA_BITS:
        raise ImproperlyConfigured(f"{name} has {key.key_size} bits; RS256 needs at least {MIN_RSA_BITS}.")
    return key


def _load_public(pem: str, name: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ImproperlyConfigured(f"{name} is not a PEM public key: {exc}")
    if not isinstance(key, rsa.RSAPublicKey):
        raise ImproperlyConfigured(f"{name} must be an RSA public key (tokens are verified with RS256).")
    return key


def _rsa_key(public: rsa.RSAPublicKey, private: rsa.RSAPrivateKey | None = None) -> Key:
    numbers = RSAAlgorithm.to_jwk(public, as_dict=True)
    kid = thumbprint(numbers)
    jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": RS256, "n": numbers["n"], "e": numbers["e"]}
    return Key(kid=kid, algorithm=RS256, verifying_key=public, signing_key=private, jwk=jwk)


def _secret_key(secret: str, *, signs: bool) -> Key:
    # Never published, so not a thumbprint (that would be a plain hash of the secret): a keyed derivation.
    kid = "hs-" + _b64(hmac.new(secret.encode(), b"custodian jwt kid", hashlib.sha256).digest()[:12])
    raw = secret.encode()
    return Key(kid=kid, algorithm=HS256, verifying_key=raw, signing_key=raw if signs else None)


def ring_build() -> KeyRing:
    """Parse the keys in settings; ImproperlyConfigured names the setting that is wrong."""
    if settings.JWT_PRIVATE_KEY:
        private = _load_private(settings.JWT_PRIVATE_KEY, "JWT_PRIVATE_KEY")
        if settings.JWT_PUBLIC_KEY:
            public = _load_public(settings.JWT_PUBLIC_KEY, "JWT_PUBLIC_KEY")
            if public.public_numbers() != private.public_key().public_numbers():
                raise ImproperlyConfigured("JWT_PUBLIC_KEY is not the public half of JWT_PRIVATE_KEY.")
        current = _rsa_key(private.public_key(), private)
    else:
        current = _secret_key(settings.JWT_SIGNING_KEY, signs=True)
    previous: dict[str, Key] = {}
    if settings.JWT_PREVIOUS_PUBLIC_KEY:
        key = _rsa_key(_load_public(settings.JWT_PREVIOUS_PUBLIC_KEY, "JWT_PREVIOUS_PUBLIC_KEY"))
        previous[key.kid] = key
    if settings.JWT_PREVIOUS_SIGNING_KEY:
        # Also accepted next to an RSA current key: that is how HS256 deployments move to RS256.
        key = _secret_key(settings.JWT_PREVIOUS_SIGNING_KEY, signs=False)
        previous[key.kid] = key
    previous.pop(current.kid, None)
    keys = (current, *previous.values())
    jwks = None
    if current.jwk is not None:
        document = {"keys": [key.jwk for key in keys if key.jwk is not None]}
        jwks = json.dumps(document, separators=(",", ":")).encode()
    return KeyRing(
        current=current,
        previous=tuple(previous.values()),
        by_kid={key.kid: key for key in keys},
        by_header={key.header_segment: key for key in keys},
        jwks=jwks,
    )


@functools.cache
def ring() -> KeyRing:
    """The process's keys, parsed on first use and again only when a test changes the settings."""
    return ring_build()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in KEY_SETTINGS:
        ring.cache_clear()


def issuer() -> str:
    """The `iss` of every token (JWT_ISSUER)."""
    # Through the module: ninja-jwt rebinds `api_settings` when a test changes NINJA_JWT.
    return str(ninja_jwt_settings.api_settings.ISSUER)


def issuer_is_url(issuer: str) -> bool:
    parts = urlsplit(issuer)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def issuer_problems(issuer: str) -> list[str]:
    """An issuer that looks like a URL must be one OpenID discovery can use: http(s), a host, no query or
    fragment. Any other string (the default `custodian`) is a plain name."""
    if "://" not in issuer:
        return []
    parts = urlsplit(issuer)
    if not issuer_is_url(issuer):
        return [f"JWT_ISSUER {issuer!r} looks like a URL but is not an http(s) URL with a host."]
    if parts.query or parts.fragment:
        return [f"JWT_ISSUER {issuer!r} must not have a query or fragment (OpenID Connect Discovery §3)."]
    return []


def jwks_document() -> bytes | None:
    """The JWK set (current and previous RSA public keys), or None when tokens are HS256-signed."""
    return ring().jwks


def discovery_document(*, base_url: str) -> dict[str, Any] | None:
    """The minimal OpenID discovery document that points verifiers at the JWK set, or None under HS256.

    The JWK set lives under the issuer when the issuer is a URL (Custodian served at that URL), else under
    `base_url` (the URL this request reached)."""
    keys = ring()
    if keys.jwks is None:
        return None
    iss = issuer()
    base = iss if issuer_is_url(iss) else base_url
    return {
        "issuer": iss,
        "jwks_uri": base.rstrip("/") + JWKS_PATH,
        "id_token_signing_alg_values_supported": [keys.current.algorithm],
    }


@dataclass(frozen=True)
class Rotation:
    private_pem: str
    public_pem: str
    kid: str
    previous_public_pem: str | None
    previous_kid: str | None
    dropped_kid: str | None  # a previous RSA key the rotation no longer carries
    from_secret: bool  # the current key is an HS256 secret


def rotation_prepare(*, bits: int = MIN_RSA_BITS) -> Rotation:
    """A new RSA key pair to sign with, and the current public key to keep verifying with; changes nothing
    (the operator deploys the values: docs/deployment.md, "Key rotation")."""
    current = ring().current
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    new = _rsa_key(private.public_key(), private)
    previous_pem = None
    if current.algorithm == RS256:
        previous_pem = current.verifying_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
    dropped = [key.kid for key in ring().previous if key.algorithm == RS256]
    return Rotation(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        public_pem=private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        kid=new.kid,
        previous_public_pem=previous_pem,
        previous_kid=current.kid if previous_pem else None,
        dropped_kid=dropped[0] if dropped else None,
        from_secret=current.algorithm == HS256,
    )
