"""Login, refresh-token rotation and revocation of sessions (one Session per login on one device)."""

from __future__ import annotations

import functools
import hmac
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors, tokens
from accounts.models import RevokeReason, Session, User
from accounts.services import mfa, reauth, staff
from audit import services as audit
from core import context, mail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opened:
    session: Session
    pair: tokens.TokenPair


def session_login(*, login: str, password: str) -> Opened | mfa.MfaRequired:
    """API password login: the one credential check, then `email_not_verified` (told only to someone who
    knows the password), then a new session, or for a user with MFA the second step."""
    user = reauth.credentials_check(login=login, password=password, door="api")
    if not user.email_verified:
        raise errors.EmailNotVerified()
    return session_login_continue(user=user, via="password", amr=["pwd"])


def session_login_continue(*, user: User, via: str, amr: Sequence[str]) -> Opened | mfa.MfaRequired:
    """After the first factor of an API login (password, provider): a session, or for a user with MFA an
    `mfa_token` for the second step (POST /auth/mfa/verify)."""
    if user.mfa_enabled:
        return mfa.mfa_login_challenge(user=user, via=via, amr=amr, door="api")
    session, pair = session_open(user=user, via=via, amr=amr)
    return Opened(session=session, pair=pair)


def _open_reserved(passed: mfa.LoginPassed) -> Opened:
    """Open the session whose id the login challenge reserved. Inserting it spends the challenge: a second
    verify of the same token (also a concurrent one) fails on the primary key."""
    details = {"factor": passed.factor.method, "authenticator_id": passed.factor.authenticator.pk}
    try:
        session, pair = session_open(
            user=passed.user, via=passed.via, amr=passed.amr, session_id=passed.session_id, details=details
        )
    except IntegrityError:
        raise errors.ChallengeInvalid()
    return Opened(session=session, pair=pair)


def session_login_mfa(
    *, mfa_token: str, code: str | None = None, credential: dict[str, Any] | None = None
) -> Opened:
    """The second step of an API login: a TOTP or recovery code, or a WebAuthn assertion; then the session."""
    passed = mfa.mfa_login_verify(
        mfa_token=mfa_token, code=code, credential=credential, door="api", spend=False
    )
    return _open_reserved(passed)


def session_login_passkey(*, passkey_token: str, credential: dict[str, Any]) -> Opened:
    """A passwordless login with a passkey (both factors at once); then the session."""
    passed = mfa.passkey_login_verify(
        passkey_token=passkey_token, credential=credential, door="api", spend=False
    )
    return _open_reserved(passed)


def staff_login(*, login: str, password: str, door: str) -> User | mfa.MfaRequired:
    """Console and admin password login: the one credential check, then staff only. A non-staff account
    gets the same InvalidCredentials as a wrong password (the refusal is audited with reason `not_staff`).
    A staff member with a second factor gets the second step (mfa.mfa_login_challenge; finished by
    staff_login_mfa); otherwise the login is audited as `auth.login` with `details.door`. No Session row is
    opened: the door keeps a Django session (whose user `accounts.backends` reloads live and active on every
    request)."""
    user = reauth.credentials_check(login=login, password=password, door=door)
    _staff_only(user, door=door)
    if user.mfa_enabled:
        return mfa.mfa_login_challenge(user=user, via="password", amr=["pwd"], door=door)
    audit.record("auth.login", actor=user, subject=user, details={"door": door, "amr": ["pwd"]})
    return user


def _staff_only(user: User, *, door: str) -> None:
    if not user.is_staff:
        audit.record("auth.login_failed", subject=user, details={"reason": "not_staff", "door": door})
        raise errors.InvalidCredentials()


def _staff_passed(passed: mfa.LoginPassed, *, door: str) -> mfa.LoginPassed:
    # Staff status is checked again: it may have been taken away between the two steps.
    _staff_only(passed.user, door=door)
    details = {
        "door": door,
        "amr": passed.amr,
        "factor": passed.factor.method,
        "authenticator_id": passed.factor.authenticator.pk,
    }
    audit.record("auth.login", actor=passed.user, subject=passed.user, details=details)
    return passed


def staff_login_mfa(
    *, mfa_token: str, door: str, code: str | None = None, credential: dict[str, Any] | None = None
) -> mfa.LoginPassed:
    """The second step of a staff door's password login (mfa.mfa_login_verify, the API's check: the same
    lockout, replay rule and audit), then staff only again. The challenge is spent here. Audited as
    `auth.login` with the door and the amr."""
    passed = mfa.mfa_login_verify(mfa_token=mfa_token, door=door, code=code, credential=credential)
    return _staff_passed(passed, door=door)


def staff_login_passkey(*, passkey_token: str, credential: dict[str, Any], door: str) -> mfa.LoginPassed:
    """A staff door's passwordless login with a passkey (mfa.passkey_login_verify: deleted and inactive
    users are not found), then staff only, audited like a password login."""
    passed = mfa.passkey_login_verify(passkey_token=passkey_token, credential=credential, door=door)
    return _staff_passed(passed, door=door)


def staff_logout(*, user: User, door: str) -> None:
    """Audits the end of a console or admin session (the door flushes its Django session)."""
    audit.record("auth.logout", actor=user, subject=user, details={"door": door})


def _new_sign_in_mail(user: User, ctx: context.RequestContext, now: datetime) -> None:
    """Optional (NEW_SIGNIN_MAIL): alert when a login comes from an IP and browser pair none of the user's
    earlier sessions had. The very first login is not news."""
    earlier = Session.objects.filter(user=user)
    if not earlier.exists() or earlier.filter(ip=ctx.ip, user_agent=ctx.user_agent[:512]).exists():
        return
    mail.enqueue(
        template="new_sign_in",
        to=user.email,
        subject_id=user.pk,
        context={
            "first_name": user.first_name,
            "when": now.isoformat(timespec="seconds"),
            "ip": ctx.ip or "",
            "user_agent": ctx.user_agent[:200],
            "link": mail.link("/account/security"),
        },
    )


def session_open(
    *,
    user: User,
    via: str,
    amr: Sequence[str] = (),
    session_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Session, tokens.TokenPair]:
    """A new session for a user who passed a login: `via` names the door's first factor (password, a
    provider, passkey), `amr` how the login was authenticated (the access token carries it). `session_id`
    is given when the id was reserved earlier (a login challenge); `details` go into the auth.login event."""
    ctx = context.current()
    now = timezone.now()
    with transaction.atomic():
        if settings.NEW_SIGNIN_MAIL:
            _new_sign_in_mail(user, ctx, now)
        session = Session(
            id=session_id or uuid.uuid4(),
            user=user,
            via=via,
            amr=list(amr),
            ip=ctx.ip,
            user_agent=ctx.user_agent[:512],
            created_at=now,
            last_seen_at=now,
            expires_at=tokens.session_expiry(now),
        )
        pair = tokens.pair_issue(session)
        session.refresh_hash = pair.refresh_hash
        session.save(force_insert=True)
        # last_login also invalidates outstanding password-reset tokens (Django's generator hashes it).
        User.objects.filter(pk=user.pk).update(last_login=now)
        audit.record(
            "auth.login",
            actor=user,
            subject=user,
            details={"session_id": str(session.id), "via": via, "amr": list(amr), **(details or {})},
        )
    return session, pair


@dataclass(frozen=True)
class Refreshed:
    session_id: uuid.UUID
    pair: tokens.TokenPair


@dataclass
class _Self:
    """The actor of a user's own event where only the id is at hand (the audit actor protocol)."""

    pk: uuid.UUID
    is_staff: bool = False


def token_refresh(*, refresh: str, unless_rotated: Callable[[], None] = lambda: None) -> Refreshed:
    """Rotate a refresh token. Of concurrent refreshes with one token exactly one gets a successor: the
    rotation is a compare-and-swap UPDATE that only matches while the presented token is the session's
    current one. A spent token presented after the grace window revokes the session (token_reused) and
    alerts the user.

    `unless_rotated` runs before anything but the fast path's rotation is decided (a token that does not
    verify, or one the swap did not match) and may raise to stop it there (the API's anonymous ceiling,
    ratelimit.CredentialCeiling)."""
    try:
        claims = tokens.refresh_decode(refresh)
    except errors.TokenInvalid:
        unless_rotated()
        raise
    presented = tokens.token_hash(refresh)
    now = timezone.now()
    # Fast path, the common case. A session's amr and absolute expiry are set when it opens, and the
    # refresh token carries both, so the next pair is signed from the presented token's claims before
    # touching the database. Then one guarded swap decides: it matches only while the token is the
    # session's current one, the session is neither revoked nor expired nor ending before the expiry the
    # token carries (a session cut short takes the locked path, which signs from the row), and its user is
    # live and active; its audit event is
    # written with it (audit.record_guarded): on PostgreSQL one statement, one round trip; on SQLite a
    # transaction whose write lock covers only the UPDATE and the INSERT. Signing inside it made every
    # other worker's write wait (docs/deployment.md, "Performance").
    if claims.amr is not None and claims.session_expires_at is not None and claims.session_expires_at > now:
        pair = tokens.pair_issue_for(
            session_id=claims.session_id,
            user_id=claims.user_id,
            amr=claims.amr,
            session_expires_at=claims.session_expires_at,
        )
        alias = router.db_for_write(Session)
        connection = connections[alias]
        fields, user_fields = _session_fields(), _user_fields()
        swapped = audit.record_guarded(
            _rotate_sql(alias),
            [
                presented,
                pair.refresh_hash,
                fields["rotated_at"].get_db_prep_save(now, connection),
                fields["last_seen_at"].get_db_prep_save(now, connection),
                fields["id"].get_db_prep_save(claims.session_id, connection),
                fields["user"].get_db_prep_save(claims.user_id, connection),
                presented,
                fields["expires_at"].get_db_prep_save(now, connection),
                fields["expires_at"].get_db_prep_save(claims.session_expires_at, connection),
                user_fields["id"].get_db_prep_save(claims.user_id, connection),
                user_fields["is_active"].get_db_prep_save(True, connection),
            ],
            "session.refreshed",
            actor=_Self(claims.user_id),
            subject=claims.user_id,
            details={"session_id": str(claims.session_id)},
            using=alias,
        )
        if swapped is not None:
            return Refreshed(session_id=claims.session_id, pair=pair)
    # Everything else (unknown or ended session, a spent token, a lost race, a token without the session's
    # facts) is decided under the row lock.
    unless_rotated()
    session, pair = _token_refresh_locked(claims=claims, presented=presented, now=now)
    return Refreshed(session_id=session.id, pair=pair)


@functools.cache
def _session_fields() -> dict[str, Any]:
    return {f.name: f for f in Session._meta.concrete_fields}


@functools.cache
def _user_fields() -> dict[str, Any]:
    return {f.name: f for f in User._meta.concrete_fields}


@functools.cache
def _rotate_sql(alias: str) -> str:
    """The compare-and-swap of a refresh, built once: what `Session.objects.filter(pk=…, user_id=…,
    refresh_hash=presented, revoked_at__isnull=True, expires_at__gt=now, expires_at__gte=sxp, user__is_active=True,
    user__deleted_at__isnull=True).update(previous_refresh_hash=presented, refresh_hash=…, rotated_at=now,
    last_seen_at=now)` means, RETURNING the id when it swapped."""
    qn = connections[alias].ops.quote_name
    column = {f.name: qn(f.column) for f in Session._meta.concrete_fields}
    user = {f.name: qn(f.column) for f in User._meta.concrete_fields}
    return (
        f"UPDATE {qn(Session._meta.db_table)} SET {column['previous_refresh_hash']} = %s, "  # noqa: S608
        f"{column['refresh_hash']} = %s, {column['rotated_at']} = %s, {column['last_seen_at']} = %s "
        f"WHERE {column['id']} = %s AND {column['user']} = %s AND {column['refresh_hash']} = %s "
        f"AND {column['revoked_at']} IS NULL AND {column['expires_at']} > %s AND {column['expires_at']} >= %s "
        f"AND EXISTS (SELECT 1 FROM {qn(User._meta.db_table)} WHERE {user['id']} = %s "
        f"AND {user['is_active']} = %s AND {user['deleted_at']} IS NULL) "
        f"RETURNING {column['id']}"
    )


def _token_refresh_locked(
    *, claims: tokens.Claims, presented: str, now: datetime
) -> tuple[Session, tokens.TokenPair]:
    """The session row is locked (SELECT … FOR UPDATE on PostgreSQL, the IMMEDIATE write lock on SQLite)."""
    reused: Session | None = None
    with transaction.atomic():
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=claims.session_id, user_id=claims.user_id)
            .first()
        )
        if session is None:
            raise errors.TokenInvalid()
        user = session.user
        if (
            session.revoked_at is not None
            or session.expires_at <= now
            or not user.is_live
            or not user.is_active
        ):
            raise errors.SessionRevoked()
        if not hmac.compare_digest(session.refresh_hash, presented):
            grace = timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS)
            just_rotated = session.rotated_at is not None and now - session.rotated_at <= grace
            if just_rotated and hmac.compare_digest(session.previous_refresh_hash, presented):
                raise errors.TokenInvalid(
                    gettext("This refresh token was just rotated by a concurrent request.")
                )
            session.revoked_at = now
            session.revoke_reason = RevokeReason.TOKEN_REUSED
            session.save(update_fields=["revoked_at", "revoke_reason"])
            audit.record("session.token_reused", subject=user, details={"session_id": str(session.id)})
            mail.enqueue(
                template="token_reused",
                to=user.email,
                subject_id=user.pk,
                context={
                    "when": now.isoformat(timespec="seconds"),
                    "ip": context.current().ip or "",
                    "link": mail.link("/account/security"),
                },
            )
            reused = session
        else:
            pair = tokens.pair_issue(session)
            session.previous_refresh_hash = session.refresh_hash
            session.refresh_hash = pair.refresh_hash
            session.rotated_at = now
            session.last_seen_at = now
            session.save(
                update_fields=["previous_refresh_hash", "refresh_hash", "rotated_at", "last_seen_at"]
            )
            audit.record(
                "session.refreshed", actor=user, subject=user, details={"session_id": str(session.id)}
            )
    if reused is not None:
        # Raised after the commit: the revocation must stick.
        logger.warning("refresh token reuse; session %s revoked", reused.pk)
        raise errors.TokenReused()
    return session, pair


def session_revoke(*, session: Session, actor: User, reason: str = RevokeReason.REVOKED) -> Session:
    """Idempotent: revoking an ended session changes nothing and writes no event. Someone else's session
    only by staff who may (staff.SESSION_REVOKE)."""
    if actor.pk != session.user_id:
        staff.staff_action_authorize(actor=actor, target=session.user, action=staff.SESSION_REVOKE)
    with transaction.atomic():
        updated = Session.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoke_reason=reason
        )
        if updated:
            audit.record(
                "session.revoked",
                actor=actor,
                subject=session.user_id,
                details={"session_id": str(session.pk), "reason": reason},
            )
    session.refresh_from_db(fields=["revoked_at", "revoke_reason"])
    return session


def session_revoke_for_user(
    *, user: User, session_id: uuid.UUID, actor: User, reason: str = RevokeReason.REVOKED
) -> None:
    session = Session.objects.filter(pk=session_id, user=user).first()
    if session is None:
        raise errors.SessionNotFound()
    session_revoke(session=session, actor=actor, reason=reason)


def sessions_revoke_all(
    *, user: User, actor: User | None, reason: str = RevokeReason.LOGOUT_ALL, keep: Session | None = None
) -> int:
    """The user's own "log out everywhere", or a staff force logout (staff.SESSIONS_REVOKE_ALL). Returns
    the sessions ended."""
    if actor is not None and actor.pk != user.pk:
        staff.staff_action_authorize(actor=actor, target=user, action=staff.SESSIONS_REVOKE_ALL)
    return sessions_end(user=user, actor=actor, reason=reason, keep=keep)


def sessions_end(*, user: User, actor: User | None, reason: str, keep: Session | None = None) -> int:
    """End every live session of the user but `keep`, audited as `session.revoked_all`, for a change that
    ends them as its consequence and has checked its actor itself (a password set by staff)."""
    with transaction.atomic():
        live = Session.objects.filter(user=user, revoked_at__isnull=True)
        if keep is not None:
            live = live.exclude(pk=keep.pk)
        count = live.update(revoked_at=timezone.now(), revoke_reason=reason)
        audit.record(
            "session.revoked_all",
            actor=actor,
            subject=user,
            details={"count": count, "reason": reason, "kept": str(keep.pk) if keep else None},
        )
    return count


def session_touch(*, session: Session) -> None:
    """Refresh last_seen_at at most every SESSION_TOUCH_SECONDS (a bookkeeping write, not audited)."""
    now = timezone.now()
    if now - session.last_seen_at >= timedelta(seconds=settings.SESSION_TOUCH_SECONDS):
        Session.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now


def sessions_erase(*, user: User) -> int:
    """Erasure: revoke every live session (reason `erased`, audited as `session.revoked_all`) and blank the
    IP and user agent of all of them. Idempotent. Returns the number revoked."""
    with transaction.atomic():
        revoked = sessions_revoke_all(user=user, actor=None, reason=RevokeReason.ERASED)
        Session.objects.filter(user=user).update(ip=None, user_agent="")
    return revoked


def sessions_purge(*, dry_run: bool = False) -> int:
    """Retention: delete sessions that ended (revoked or expired) more than SESSION_RETENTION_DAYS ago,
    audited as `retention.sessions_purged` when any were. Returns how many were (or would be) deleted."""
    cutoff = timezone.now() - timedelta(days=settings.SESSION_RETENTION_DAYS)
    ended = Session.objects.filter(Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff))
    if dry_run:
        return ended.count()
    with transaction.atomic():
        count, _ = ended.delete()
        if count:
            audit.record("retention.sessions_purged", details={"count": count, "cutoff": cutoff.isoformat()})
    return count
