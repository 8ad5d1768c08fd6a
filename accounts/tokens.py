"""JWT access and refresh tokens (django-ninja-jwt's classes) bound to a Session by the `sid` claim, signed
with the current key of accounts.jwks (its `kid` in the header) and verified with the key the `kid` names."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from ninja_jwt import settings as ninja_jwt_settings
from ninja_jwt.backends import TokenBackend
from ninja_jwt.exceptions import TokenBackendError, TokenError
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
    refresh = SessionRefreshToken()
    refresh["sub"] = str(session.user_id)
    refresh["sid"] = str(session.id)
    # How the session's login was authenticated (RFC 8176 values); copied into every access token.
    refresh["amr"] = list(session.amr)
    # A refresh token never outlives its session's absolute expiry.
    refresh_exp = min(refresh.current_time + SessionRefreshToken.lifetime, session.expires_at)
    refresh.set_exp(from_time=refresh.current_time, lifetime=refresh_exp - refresh.current_time)
    access = refresh.access_token
    raw_refresh = str(refresh)
    return TokenPair(
        access=str(access),
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


def _claims(token: Token) -> Claims:
    try:
        return Claims(
            token_type=str(token["token_type"]),
            user_id=uuid.UUID(str(token["sub"])),
            session_id=uuid.UUID(str(token["sid"])),
            expires_at=datetime.fromtimestamp(int(token["exp"]), tz=UTC),
        )
    except (KeyError, ValueError, TypeError):
        raise errors.TokenInvalid()


def _decode(token_class: type[Token], raw: str) -> Claims:
    try:
        return _claims(token_class(raw))
    except TokenError:
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
