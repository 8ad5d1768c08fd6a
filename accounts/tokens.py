"""JWT access and refresh tokens (django-ninja-jwt's classes) bound to a Session by the `sid` claim, signed
with the current key of accounts.jwks (its `kid` in the header) and verified with the key the `kid` names."""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from ninja_jwt import settings as ninja_jwt_settings
from ninja_jwt.backends import TokenBackend
from ninja_jwt.exceptions import TokenBackendError
from ninja_jwt.tokens import AccessToken, RefreshToken, Token

from accounts import errors, jwks
from accounts.models import Session


class KeyRingBackend(TokenBackend):
    """ninja-jwt's backend over a key ring: signs with the current key and its kid; verifies with the key the
    token's kid names (current or previous), that key's algorithm pinned. Keys are parsed objects, so no
    request parses a PEM."""

    def __init__(self, keys: jwks.KeyRing) -> None:
        # Through the module: ninja-jwt rebinds `api_settings` when a test changes NINJA_JWT.
        api_settings = ninja_jwt_settings.api_settings
        super().__init__(
            keys.current.algorithm,
            audience=api_settings.AUDIENCE,
            issuer=api_settings.ISSUER,
            leeway=api_settings.LEEWAY,
        )
        self.keys = keys

    def encode(self, payload: dict[str, Any]) -> str:
        claims = dict(payload)
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        key = self.keys.current
        if key.algorithm == jwks.HS256:
            # What jwt.encode produces for this key (compact JSON, the header segment the key ring made the
            # same way), without its per-call key checks: one HMAC. Equality with PyJWT is tested.
            body = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
            signing_input = f"{key.header_segment}.{body}"
            signature = hmac.new(key.signing_key, signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{_b64encode(signature)}"
        return jwt.encode(claims, key.signing_key, algorithm=key.algorithm, headers={"kid": key.kid})

    def _candidates(self, token: str) -> tuple[jwks.Key, ...]:
        # Our own tokens' header segment names the key at once; anything else has its header parsed.
        key = self.keys.by_header.get(token.partition(".")[0])
        if key is not None:
            return (key,)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid or expired") from exc
        return self.keys.candidates(header.get("kid"))

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        if not isinstance(token, str):
            raise TokenBackendError("Token is invalid or expired")
        if verify:
            key = self.keys.by_header.get(token.partition(".")[0])
            if key is not None and key.algorithm == jwks.HS256:
                return self._hs256_decode(token, key)
        for key in self._candidates(token):
            try:
                return jwt.decode(
                    token,
                    key.verifying_key,
                    algorithms=[key.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.get_leeway(),
                    options={"verify_aud": self.audience is not None, "verify_signature": verify},
                )
            except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError):
                continue  # not this key's token: a token without kid tries the next one
            except jwt.InvalidTokenError as exc:
                raise TokenBackendError("Token is invalid or expired") from exc
        raise TokenBackendError("Token is invalid or expired")

    def _hs256_decode(self, token: str, key: jwks.Key) -> dict[str, Any]:
        """jwt.decode for our own HS256 tokens (the header segment is the key's, so the algorithm is
        pinned): the signature by one HMAC, then the claims as PyJWT checks them (exp, iat, nbf, aud,
        iss). PyJWT spends most of a decode on preparing the key and checking base64 in Python."""
        signing_input, _, signature = token.rpartition(".")
        payload_segment = signing_input.partition(".")[2]
        if "." in payload_segment:
            raise TokenBackendError("Token is invalid or expired")
        expected = hmac.new(key.verifying_key, signing_input.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            raise TokenBackendError("Token is invalid or expired")
        try:
            payload = json.loads(_b64decode(payload_segment))
        except ValueError as exc:
            raise TokenBackendError("Token is invalid or expired") from exc
        if not isinstance(payload, dict):
            raise TokenBackendError("Token is invalid or expired")
        now = time.time()
        leeway = self.get_leeway().total_seconds()
        try:
            if "iat" in payload and int(payload["iat"]) > now + leeway:
                raise TokenBackendError("Token is invalid or expired")
            if "nbf" in payload and int(payload["nbf"]) > now + leeway:
                raise TokenBackendError("Token is invalid or expired")
            if "exp" in payload and int(payload["exp"]) <= now - leeway:
                raise TokenBackendError("Token is invalid or expired")
        except (ValueError, TypeError, OverflowError) as exc:
            raise TokenBackendError("Token is invalid or expired") from exc
        if self.audience is not None:
            aud = payload.get("aud")
            if isinstance(aud, str):
                aud = [aud]
            audiences = [self.audience] if isinstance(self.audience, str) else list(self.audience)
            if not isinstance(aud, list) or not any(a in aud for a in audiences):
                raise TokenBackendError("Token is invalid or expired")
        if self.issuer is not None and payload.get("iss") != self.issuer:
            raise TokenBackendError("Token is invalid or expired")
        return payload


_B64_STANDARD = bytes.maketrans(b"-_", b"+/")
_B64URL_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _b64encode(raw: bytes) -> str:
    return (
        binascii.b2a_base64(raw, newline=False).translate(bytes.maketrans(b"+/", b"-_")).rstrip(b"=").decode()
    )


def _b64decode(segment: str) -> bytes:
    """base64url (RFC 7515; padding tolerated, as PyJWT does), strictly: any other character fails."""
    try:
        raw = segment.rstrip("=").encode("ascii")
    except UnicodeEncodeError as exc:
        raise TokenBackendError("Token is invalid or expired") from exc
    if not _B64URL_ALPHABET.issuperset(raw):
        raise TokenBackendError("Token is invalid or expired")
    try:
        return binascii.a2b_base64(raw.translate(_B64_STANDARD) + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error as exc:
        raise TokenBackendError("Token is invalid or expired") from exc


@functools.cache
def token_backend() -> KeyRingBackend:
    return KeyRingBackend(jwks.ring())


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in jwks.KEY_SETTINGS or setting == "NINJA_JWT":
        token_backend.cache_clear()


class SessionAccessToken(AccessToken):
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_MINUTES)

    def get_token_backend(self) -> TokenBackend:
        return token_backend()


class SessionRefreshToken(RefreshToken):
    lifetime = timedelta(days=settings.REFRESH_TOKEN_DAYS)
    access_token_class = SessionAccessToken

    def get_token_backend(self) -> TokenBackend:
        return token_backend()


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    refresh_hash: str
    access_expires_in: int
    refresh_expires_at: datetime


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def pair_issue(session: Session) -> TokenPair:
    return pair_issue_for(
        session_id=session.id, user_id=session.user_id, amr=session.amr, session_expires_at=session.expires_at
    )


def pair_issue_for(
    *, session_id: uuid.UUID, user_id: uuid.UUID, amr: Sequence[str], session_expires_at: datetime
) -> TokenPair:
    """The claims ninja-jwt's RefreshToken() and its .access_token would carry (token_type, exp, iat, jti;
    the access token copies the rest), built as plain dicts: one signature each, nothing else.

    A session's `amr` and `expires_at` are fixed when it opens, so the refresh token carries both (`amr`,
    and `sxp`: the session's absolute expiry, whole seconds rounded down) and a refresh can issue the next
    pair from the presented token's claims, without reading the session first."""
    api_settings = ninja_jwt_settings.api_settings
    type_claim, jti_claim = str(api_settings.TOKEN_TYPE_CLAIM), str(api_settings.JTI_CLAIM)
    now = datetime.now(tz=UTC)
    iat = int(now.timestamp())
    # A refresh token never outlives its session's absolute expiry.
    refresh_exp = min(now + SessionRefreshToken.lifetime, session_expires_at)
    # How the session's login was authenticated (RFC 8176 values); copied into every access token.
    common = {"iat": iat, "sub": str(user_id), "sid": str(session_id), "amr": list(amr)}
    refresh_claims: dict[str, object] = {
        type_claim: "refresh",
        "exp": int(refresh_exp.timestamp()),
        jti_claim: uuid.uuid4().hex,
        "sxp": int(session_expires_at.timestamp()),
    }
    access_claims: dict[str, object] = {
        type_claim: "access",
        "exp": int((now + SessionAccessToken.lifetime).timestamp()),
    }
    access_claims[jti_claim] = uuid.uuid4().hex
    backend = token_backend()
    raw_refresh = backend.encode({**refresh_claims, **common})
    return TokenPair(
        access=backend.encode({**access_claims, **common}),
        refresh=raw_refresh,
        refresh_hash=token_hash(raw_refresh),
        access_expires_in=int(SessionAccessToken.lifetime.total_seconds()),
        refresh_expires_at=refresh_exp,
    )


@dataclass(frozen=True)
class Claims:
    token_type: str
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime
    # Refresh tokens only (None in access tokens and in refresh tokens issued before they carried them).
    amr: tuple[str, ...] | None = None
    session_expires_at: datetime | None = None


def _session_facts(payload: dict[str, Any]) -> tuple[tuple[str, ...] | None, datetime | None]:
    amr, sxp = payload.get("amr"), payload.get("sxp")
    if (
        not isinstance(amr, list)
        or not all(isinstance(a, str) for a in amr)
        or not isinstance(sxp, int)
        or isinstance(sxp, bool)
    ):
        return None, None
    return tuple(amr), datetime.fromtimestamp(sxp, tz=UTC)


def _decode(token_class: type[Token], raw: str) -> Claims:
    """What `token_class(raw)` checks (signature and claims through the backend; an `exp`, a `jti`, the
    token type), without building the Token object."""
    api_settings = ninja_jwt_settings.api_settings
    type_claim, jti_claim = str(api_settings.TOKEN_TYPE_CLAIM), str(api_settings.JTI_CLAIM)
    try:
        payload = token_backend().decode(raw)
    except TokenBackendError:
        raise errors.TokenInvalid()
    try:
        expires_at = datetime.fromtimestamp(int(payload["exp"]), tz=UTC)
        if (
            expires_at <= datetime.now(tz=UTC) - token_backend().get_leeway()
            or jti_claim not in payload
            or payload[type_claim] != token_class.token_type
        ):
            raise errors.TokenInvalid()
        amr, session_expires_at = (
            _session_facts(payload) if token_class is SessionRefreshToken else (None, None)
        )
        return Claims(
            token_type=str(payload[type_claim]),
            user_id=uuid.UUID(str(payload["sub"])),
            session_id=uuid.UUID(str(payload["sid"])),
            expires_at=expires_at,
            amr=amr,
            session_expires_at=session_expires_at,
        )
    except (KeyError, ValueError, TypeError, OverflowError, OSError):
        raise errors.TokenInvalid()


def access_decode(raw: str) -> Claims:
    return _decode(SessionAccessToken, raw)


def refresh_decode(raw: str) -> Claims:
    return _decode(SessionRefreshToken, raw)


def any_decode(raw: str) -> Claims:
    try:
        return access_decode(raw)
    except errors.TokenInvalid:
        return refresh_decode(raw)


def session_expiry(now: datetime) -> datetime:
    return now + timedelta(days=settings.SESSION_ABSOLUTE_DAYS)
