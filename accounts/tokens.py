"""JWT access and refresh tokens (django-ninja-jwt's classes) bound to a Session by the `sid` claim."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from ninja_jwt.backends import TokenBackend
from ninja_jwt.exceptions import TokenError
from ninja_jwt.settings import api_settings
from ninja_jwt.tokens import AccessToken, RefreshToken, Token

from accounts import errors
from accounts.models import Session


class SessionAccessToken(AccessToken):
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_MINUTES)


class SessionRefreshToken(RefreshToken):
    lifetime = timedelta(days=settings.REFRESH_TOKEN_DAYS)
    access_token_class = SessionAccessToken


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


def previous_key_backend() -> TokenBackend | None:
    """Key rotation's grace key (docs/deployment.md): tokens signed with the previous key still verify until
    the operator removes it; nothing is ever signed with it."""
    hs_key, public_key = settings.JWT_PREVIOUS_SIGNING_KEY, settings.JWT_PREVIOUS_PUBLIC_KEY
    if not (public_key if api_settings.ALGORITHM.startswith("RS") else hs_key):
        return None
    return TokenBackend(
        api_settings.ALGORITHM,
        hs_key,
        public_key,
        api_settings.AUDIENCE,
        api_settings.ISSUER,
        leeway=api_settings.LEEWAY,
    )


class _PreviousKeyAccessToken(SessionAccessToken):
    def get_token_backend(self) -> TokenBackend | None:
        return previous_key_backend()


class _PreviousKeyRefreshToken(SessionRefreshToken):
    def get_token_backend(self) -> TokenBackend | None:
        return previous_key_backend()


def _decode(current: type[Token], previous: type[Token], raw: str) -> Claims:
    try:
        return _claims(current(raw))
    except TokenError:
        if previous_key_backend() is None:
            raise errors.TokenInvalid()
    try:
        return _claims(previous(raw))
    except TokenError:
        raise errors.TokenInvalid()


def access_decode(raw: str) -> Claims:
    return _decode(SessionAccessToken, _PreviousKeyAccessToken, raw)


def refresh_decode(raw: str) -> Claims:
    return _decode(SessionRefreshToken, _PreviousKeyRefreshToken, raw)


def any_decode(raw: str) -> Claims:
    try:
        return access_decode(raw)
    except errors.TokenInvalid:
        return refresh_decode(raw)


def session_expiry(now: datetime) -> datetime:
    return now + timedelta(days=settings.SESSION_ABSOLUTE_DAYS)
