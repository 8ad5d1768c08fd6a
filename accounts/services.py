"""All writes of the accounts app. Each records its audit event in the same transaction and queues mail on
commit."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import errors, ratelimit, selectors, signals, tokens, validators
from accounts.models import Profile, RevokeReason, Session, User
from accounts.tasks import email_enqueue
from audit import context
from audit import services as audit

logger = logging.getLogger(__name__)

VERIFY_SALT = "accounts.email-verify"
USER_UPDATABLE_FIELDS = frozenset({"first_name", "last_name", "username"})
PROFILE_UPDATABLE_FIELDS = frozenset({"phone", "birth_date", "website", "bio", "locale"})
# null clears these; for the other text fields null means "".
NULLABLE_FIELDS = frozenset({"username", "birth_date"})


# --- registration and e-mail verification ---------------------------------------------------------------


def _password_check(password: str, user: User, field: str = "password") -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise errors.ValidationFailed({field: list(exc.messages)})


def _taken_error(*, email: str, username: str | None, exclude: Any = None) -> errors.AccountsError | None:
    others = User.objects.exclude(pk=exclude) if exclude else User.objects.all()
    if others.by_login(email).exists():
        return errors.EmailTaken()
    if username and others.by_login(username).exists():
        return errors.UsernameTaken()
    return None


def user_register(
    *, email: str, password: str, username: str | None = None, first_name: str = "", last_name: str = ""
) -> User:
    email = User.objects.normalize_email(email.strip())
    ratelimit.hit("register_address", email)
    username = username or None
    candidate = User(email=email, username=username, first_name=first_name, last_name=last_name)
    _password_check(password, candidate)
    taken = _taken_error(email=email, username=username)
    if taken:
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, username=username, first_name=first_name, last_name=last_name
            )
            audit.record("user.registered", actor=user, subject=user, details={"via": "password"})
            _verification_mail(user)
    except IntegrityError:
        # A concurrent registration won the partial unique index.
        raise _taken_error(email=email, username=username) or errors.EmailTaken()
    return user


def _verify_fingerprint(user: User) -> str:
    state = f"{user.email.lower()}|{user.email_verified_at.isoformat() if user.email_verified_at else ''}"
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def email_verification_key(user: User) -> str:
    """HMAC-signed, expiring, single use: the key embeds a fingerprint of the unverified state it was made for."""
    return signing.dumps({"u": str(user.pk), "f": _verify_fingerprint(user)}, salt=VERIFY_SALT, compress=True)


def _verification_mail(user: User) -> None:
    key = email_verification_key(user)
    email_enqueue(
        template="verify",
        to=user.email,
        context={
            "first_name": user.first_name,
            "key": key,
            "link": _link("/verify-email", key=key),
            "hours": settings.EMAIL_VERIFY_MAX_AGE_HOURS,
        },
    )


def _link(path: str, **query: str) -> str:
    from accounts.mail import link

    return link(path, **query)


def email_verify(*, key: str) -> User:
    try:
        data = signing.loads(
            key, salt=VERIFY_SALT, max_age=timedelta(hours=settings.EMAIL_VERIFY_MAX_AGE_HOURS)
        )
        user_id, fingerprint = str(data["u"]), str(data["f"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise errors.InvalidKey()
    with transaction.atomic():
        user = (
            User.objects.live().select_for_update().filter(pk=user_id).first() if _is_uuid(user_id) else None
        )
        if (
            user is None
            or user.email_verified
            or not hmac.compare_digest(fingerprint, _verify_fingerprint(user))
        ):
            raise errors.InvalidKey()
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit.record("user.email_verified", actor=user, subject=user)
        email_enqueue(
            template="welcome",
            to=user.email,
            context={"first_name": user.first_name, "link": _link("/login")},
        )
    return user


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def email_verification_resend(*, email: str) -> None:
    """Sends a new key if a live, unverified user has this address; says nothing either way."""
    ratelimit.hit("resend_address", email)
    user = (
        User.objects.by_login(email).filter(email_verified_at__isnull=True).first() if "@" in email else None
    )
    if user is not None:
        email_verification_send(user=user, actor=user)


# --- login, sessions, tokens ----------------------------------------------------------------------------


def session_login(*, login: str, password: str) -> tuple[Session, tokens.TokenPair]:
    """Password login. Unknown login, wrong password, deleted and inactive users all fail the same way;
    `email_not_verified` is told only to someone who knows the password.

    Failures are counted per account (the user's id, so e-mail, username and letter case all count
    together; an unknown login is counted by its lower-cased text, so a lock says nothing about existence).
    LOGIN_LOCKOUT_FAILURES of them lock the account: 429 `locked`, even for the right password."""
    user = User.objects.by_login(login).first() if login else None
    account = str(user.pk) if user is not None else f"login:{login.strip().lower()}"
    retry_after = ratelimit.lockout_retry_after(account)
    if retry_after is not None:
        audit.record("auth.login_failed", subject=user, details={"reason": "locked"})
        raise errors.AccountLocked(retry_after)
    if user is None:
        User().set_password(password)  # spend the same hashing time as a real check
        audit.record("auth.login_failed", details={"reason": "unknown_login"})
        _login_failure(account, user=None)
        raise errors.InvalidCredentials()
    if not user.check_password(password) or not user.is_active:
        audit.record(
            "auth.login_failed",
            subject=user,
            details={"reason": "wrong_password" if user.is_active else "inactive"},
        )
        _login_failure(account, user=user)
        raise errors.InvalidCredentials()
    ratelimit.lockout_reset(account)
    if not user.email_verified:
        raise errors.EmailNotVerified()
    return session_open(user=user, via="password")


def _login_failure(account: str, *, user: User | None) -> None:
    if ratelimit.lockout_failure(account):
        audit.record(
            "auth.locked",
            subject=user,
            details={
                "failures": settings.LOGIN_LOCKOUT_FAILURES,
                "seconds": settings.LOGIN_LOCKOUT_SECONDS,
            },
        )


def _new_sign_in_mail(user: User, ctx: context.RequestContext, now: Any) -> None:
    """Optional (NEW_SIGNIN_MAIL): alert when a login comes from an IP and browser pair none of the user's
    earlier sessions had. The very first login is not news."""
    earlier = Session.objects.filter(user=user)
    if not earlier.exists() or earlier.filter(ip=ctx.ip, user_agent=ctx.user_agent[:512]).exists():
        return
    email_enqueue(
        template="new_sign_in",
        to=user.email,
        context={
            "first_name": user.first_name,
            "when": now.isoformat(timespec="seconds"),
            "ip": ctx.ip or "",
            "user_agent": ctx.user_agent[:200],
            "link": _link("/account/security"),
        },
    )


def session_open(*, user: User, via: str) -> tuple[Session, tokens.TokenPair]:
    ctx = context.current()
    now = timezone.now()
    with transaction.atomic():
        if settings.NEW_SIGNIN_MAIL:
            _new_sign_in_mail(user, ctx, now)
        session = Session(
            user=user,
            via=via,
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
            "auth.login", actor=user, subject=user, details={"session_id": str(session.id), "via": via}
        )
    return session, pair


def token_refresh(*, refresh: str) -> tuple[Session, tokens.TokenPair]:
    """Rotate a refresh token. Of concurrent refreshes with one token exactly one gets a successor: the
    rotation is a compare-and-swap UPDATE that only matches while the presented token is the session's
    current one. A spent token presented after the grace window revokes the session (token_reused) and
    alerts the user."""
    claims = tokens.refresh_decode(refresh)
    presented = tokens.token_hash(refresh)
    now = timezone.now()
    # Fast path, the common case: read without a lock, sign the new pair outside any transaction, then swap.
    # The transaction (and on SQLite the database-wide write lock) then covers only the UPDATE and the audit
    # insert; signing inside it made every other worker's write wait (docs/deployment.md, "Performance").
    session = selectors.session_with_user(session_id=claims.session_id)
    if (
        session is not None
        and session.user_id == claims.user_id
        and selectors.session_is_usable(session, now=now)
        and hmac.compare_digest(session.refresh_hash, presented)
    ):
        pair = tokens.pair_issue(session)
        with transaction.atomic():
            swapped = Session.objects.filter(
                pk=session.pk, refresh_hash=presented, revoked_at__isnull=True
            ).update(
                previous_refresh_hash=presented,
                refresh_hash=pair.refresh_hash,
                rotated_at=now,
                last_seen_at=now,
            )
            if swapped:
                audit.record(
                    "session.refreshed",
                    actor=session.user,
                    subject=session.user,
                    details={"session_id": str(session.id)},
                )
        if swapped:
            session.previous_refresh_hash, session.refresh_hash = presented, pair.refresh_hash
            session.rotated_at = session.last_seen_at = now
            return session, pair
    # Everything else (unknown or ended session, a spent token, a lost race) is decided under the row lock.
    return _token_refresh_locked(claims=claims, presented=presented, now=now)


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
                raise errors.TokenInvalid("This refresh token was just rotated by a concurrent request.")
            _session_revoke_locked(session, actor=None, reason=RevokeReason.TOKEN_REUSED, now=now)
            audit.record(
                "session.token_reused",
                subject=user,
                details={"session_id": str(session.id)},
            )
            email_enqueue(
                template="token_reused",
                to=user.email,
                context={
                    "when": now.isoformat(timespec="seconds"),
                    "ip": context.current().ip or "",
                    "link": _link("/account/security"),
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


def _session_revoke_locked(session: Session, *, actor: User | None, reason: str, now: Any) -> None:
    session.revoked_at = now
    session.revoke_reason = reason
    session.save(update_fields=["revoked_at", "revoke_reason"])


def session_revoke(*, session: Session, actor: User, reason: str = RevokeReason.REVOKED) -> Session:
    """Idempotent: revoking an ended session changes nothing and writes no event."""
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
    *, user: User, session_id: Any, actor: User, reason: str = RevokeReason.REVOKED
) -> None:
    session = Session.objects.filter(pk=session_id, user=user).first()
    if session is None:
        raise errors.SessionNotFound()
    session_revoke(session=session, actor=actor, reason=reason)


def sessions_revoke_all(
    *, user: User, actor: User | None, reason: str = RevokeReason.LOGOUT_ALL, keep: Session | None = None
) -> int:
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


# --- profile and deletion -------------------------------------------------------------------------------


def user_update(*, user: User, actor: User, changes: dict[str, Any]) -> User:
    """Apply allow-listed user and profile fields; anything else in `changes` is ignored (no mass assignment)."""
    changes = {k: ("" if v is None and k not in NULLABLE_FIELDS else v) for k, v in changes.items()}
    user_changes = {k: v for k, v in changes.items() if k in USER_UPDATABLE_FIELDS}
    # null clears a field, as it does for username: names are stored as "" (a NULL first_name failed the
    # NOT NULL constraint and was reported as username_taken).
    for name in ("first_name", "last_name"):
        if name in user_changes and user_changes[name] is None:
            user_changes[name] = ""
    profile_changes = {k: v for k, v in changes.items() if k in PROFILE_UPDATABLE_FIELDS}
    invalid = validators.profile_errors(profile_changes)
    if invalid:
        raise errors.ValidationFailed(invalid)
    if "username" in user_changes:
        user_changes["username"] = user_changes["username"] or None
        if user_changes["username"] and _taken_error(
            email="@", username=user_changes["username"], exclude=user.pk
        ):
            raise errors.UsernameTaken()
    try:
        with transaction.atomic():
            changed: dict[str, Any] = {}
            for field, value in user_changes.items():
                if getattr(user, field) != value:
                    changed[field] = value
                    setattr(user, field, value)
            if changed:
                user.save(update_fields=list(changed))
            profile, _ = Profile.objects.get_or_create(user=user)
            changed_profile = [f for f, v in profile_changes.items() if getattr(profile, f) != v]
            for field in changed_profile:
                setattr(profile, field, profile_changes[field])
            if changed_profile:
                profile.save(update_fields=[*changed_profile, "updated_at"])
            if changed or changed_profile:
                audit.record(
                    "user.updated",
                    actor=actor,
                    subject=user,
                    details={"fields": sorted([*changed, *changed_profile])},
                )
    except IntegrityError:
        raise errors.UsernameTaken()
    return user


def user_soft_delete(
    *, user: User, password: str | None, session: Session | None = None, actor: User | None = None
) -> User:
    """Soft delete: login ends now, e-mail and username are free to register again, every session is
    revoked. Higher apps (gdpr) react to `user_soft_deleted` after commit.

    A user with a password must give it. A user without one (signed up through a provider) must be on a
    session opened by a login within the re-auth window."""
    actor = actor or user
    if user.has_usable_password():
        if not password:
            raise errors.ValidationFailed({"password": ["Your password is required to delete the account."]})
        if not user.check_password(password):
            audit.record(
                "user.delete_refused", actor=actor, subject=user, details={"reason": "wrong_password"}
            )
            raise errors.WrongPassword()
    elif session is None or not selectors.session_is_recent(session=session):
        raise errors.ReauthRequired(
            "Log in again with your provider to delete the account.",
            details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
        )
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.deleted_at is not None:
            return locked
        locked.deleted_at = now
        locked.save(update_fields=["deleted_at"])
        Session.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=RevokeReason.USER_DELETED
        )
        audit.record("user.deleted", actor=actor, subject=locked, details={"soft": True})
        email_enqueue(
            template="account_deleted", to=locked.email, context={"when": now.isoformat(timespec="seconds")}
        )
        transaction.on_commit(lambda: signals.user_soft_deleted.send(sender=User, user=locked, actor=actor))
    user.deleted_at = now
    return locked


# --- staff actions (console) ----------------------------------------------------------------------------


def user_deactivate(*, user: User, actor: User, reason: str = "") -> User:
    """Blocks login and ends every session at once. Idempotent: an inactive user is left as is, unaudited."""
    if user.pk == actor.pk:
        raise errors.SelfDeactivation()
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            return locked
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        ended = Session.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=RevokeReason.DEACTIVATED
        )
        audit.record(
            "user.deactivated", actor=actor, subject=locked, details={"reason": reason, "sessions": ended}
        )
    return locked


def user_reactivate(*, user: User, actor: User) -> User:
    """Idempotent: an active user is left as is, unaudited."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            return locked
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        audit.record("user.reactivated", actor=actor, subject=locked)
    return locked


def email_verification_send(*, user: User, actor: User) -> None:
    """Send a new verification key to one live, unverified user; `actor` is the user (API resend) or the
    staff member (console) named in the audit event."""
    if not user.is_live or user.email_verified:
        raise errors.NothingToVerify()
    with transaction.atomic():
        audit.record("user.verification_resent", actor=actor, subject=user)
        _verification_mail(user)


def staff_demo_ensure(*, email: str, password: str) -> User:
    """The embedded default's demo staff account (`manage.py demo_staff`): created as a verified superuser,
    or its password reset to `password`. Audited as a system action."""
    with transaction.atomic():
        user = User.objects.by_login(email).select_for_update().first()
        if user is None:
            user = User.objects.create_superuser(email=email, password=password, first_name="Demo")
            audit.record("user.registered", subject=user, details={"via": "demo_staff"})
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            audit.record("user.password_set", subject=user, details={"via": "demo_staff"})
    return user
