"""Reads of MFA state: a login challenge with what its second step needs, enrollments in progress, the
user's authenticators as the API and the GDPR export show them (never a secret)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.mfa import recovery, totp
from accounts.models import MfaChallenge, Session, User

TOTP = Authenticator.Type.TOTP
RECOVERY_CODES = Authenticator.Type.RECOVERY_CODES
WEBAUTHN = Authenticator.Type.WEBAUTHN
# Order in which methods are listed (GET /me, the login's "MFA required" answer).
METHOD_ORDER = ("totp", "webauthn", "recovery_codes")


@dataclass(frozen=True)
class PendingLogin:
    challenge_id: uuid.UUID
    user: User
    via: str
    amr: list[str]
    data: dict[str, Any]
    session_id: uuid.UUID
    authenticators: list[Authenticator]


def live_challenges(*, token_hash: str, kind: str) -> QuerySet[MfaChallenge]:
    """The challenge of a token while it can still be used: not expired, and its session not yet opened."""
    return MfaChallenge.objects.filter(
        token_hash=token_hash, kind=kind, expires_at__gt=timezone.now()
    ).exclude(Exists(Session.objects.filter(pk=OuterRef("session_id"))))


_CHALLENGE_FIELDS = ("id", "via", "amr", "data", "session_id")


def login_challenge(
    *, token_hash: str, kind: str, types: list[str], user_id: uuid.UUID | None = None
) -> PendingLogin | None:
    """The live challenge of a login (or passkey) token with its user and the user's authenticators of
    `types`, in one query: the authenticator rows with their user, the challenge's columns as scalar
    subqueries. A login is budgeted at five queries per step (tests/perf); loading the challenge, the user
    and the authenticators one by one would spend three of them.

    The user is the challenge's, or `user_id` (a passkey login names its user only in the answer). None when
    the token is not live, the user is not live and active, or has no authenticator of those types."""
    challenge = live_challenges(token_hash=token_hash, kind=kind)
    owner: Any = user_id if user_id is not None else Subquery(challenge.values("user_id")[:1])
    rows = list(
        Authenticator.objects.select_related("user")
        .filter(user_id=owner, type__in=types, user__deleted_at__isnull=True, user__is_active=True)
        .annotate(**{f"challenge_{name}": Subquery(challenge.values(name)[:1]) for name in _CHALLENGE_FIELDS})
        .order_by("id")
    )
    if not rows or rows[0].challenge_id is None:  # type: ignore[attr-defined]
        return None
    first: Any = rows[0]
    return PendingLogin(
        challenge_id=first.challenge_id,
        user=first.user,
        via=first.challenge_via,
        amr=list(first.challenge_amr or []),
        data=dict(first.challenge_data or {}),
        session_id=first.challenge_session_id,
        authenticators=rows,
    )


def setup_pending(*, user: User, kind: str) -> MfaChallenge | None:
    """The user's enrollment of `kind` in progress, if it has not expired."""
    return (
        MfaChallenge.objects.filter(user=user, kind=kind, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )


def authenticator_list(*, user: User) -> QuerySet[Authenticator]:
    return Authenticator.objects.filter(user=user).order_by("created_at", "id")


def webauthn_list(*, user: User) -> list[Authenticator]:
    return list(Authenticator.objects.filter(user=user, type=WEBAUTHN).order_by("id"))


def authenticator_name(authenticator: Authenticator) -> str:
    if authenticator.type == WEBAUTHN:
        return str(authenticator.data.get("name", ""))
    return str(authenticator.get_type_display())


def authenticator_passwordless(authenticator: Authenticator) -> bool | None:
    if authenticator.type != WEBAUTHN:
        return None
    return bool(authenticator.data.get("passwordless"))


def mfa_status(*, user: User) -> dict[str, Any]:
    codes = Authenticator.objects.filter(user=user, type=RECOVERY_CODES).first()
    return {
        "enabled": user.mfa_enabled,
        "methods": list(user.mfa_methods),
        "recovery_codes_left": recovery.codes_left(codes.data) if codes is not None else None,
    }


def authenticators_export(*, user: User) -> list[dict[str, Any]]:
    """What the GDPR export says about the user's second factors: type, name, dates; never a secret, a
    key or a code hash."""
    return [
        {
            "type": a.type,
            "name": authenticator_name(a),
            "passwordless": authenticator_passwordless(a),
            "created_at": a.created_at,
            "last_used_at": a.last_used_at,
            **({"recovery_codes_left": recovery.codes_left(a.data)} if a.type == RECOVERY_CODES else {}),
        }
        for a in authenticator_list(user=user)
    ]


@dataclass(frozen=True)
class PendingTotp:
    secret: str
    otpauth_uri: str
    qr_code: str
    expires_at: datetime


def totp_setup_current(*, user: User) -> PendingTotp | None:
    """The user's TOTP enrollment in progress (totp_setup_begin's secret, to show again), if not expired."""
    pending = setup_pending(user=user, kind=MfaChallenge.Kind.TOTP_SETUP)
    if pending is None:
        return None
    secret = decrypt(pending.data["secret"])
    uri = totp.otpauth_uri(user, secret)
    return PendingTotp(
        secret=secret, otpauth_uri=uri, qr_code=totp.qr_code_data_uri(uri), expires_at=pending.expires_at
    )
