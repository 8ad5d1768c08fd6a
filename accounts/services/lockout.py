"""The login lockout's consequences: telling the owner of a locked account, and staff clearing a lock.
The counters themselves are in accounts.ratelimit; reauth.credentials_check and password_confirm feed them."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import errors, ratelimit, selectors
from accounts.models import User
from accounts.services import reset_tokens, staff
from audit import selectors as audit_selectors
from audit import services as audit
from core import context, mail


def _owner_notified_recently(user: User) -> bool:
    """Whether a lock of this account mailed its owner within LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS. The audit
    log is the record (not the cache): a cache flush must not restart the mails."""
    since = timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS)
    return (
        audit_selectors.events_for_subject(subject_id=user.pk)
        .filter(action="auth.locked", created_at__gte=since, details__owner_notified=True)
        .exists()
    )


def lockout_record(*, user: User | None) -> None:
    """A failed password has just locked an account: audit `auth.locked`. The owner of a known, active
    account is mailed (what happened, when, from which IP, a password-reset link) unless a lock mailed them
    within LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS; the event says whether this one did (`owner_notified`). An
    unknown login (`user` None) mails nobody. The mail leaves through the outbox, in the event's
    transaction."""
    details = {"failures": settings.LOGIN_LOCKOUT_FAILURES, "seconds": settings.LOGIN_LOCKOUT_SECONDS}
    if user is None:
        audit.record("auth.locked", details=details)
        return
    now = timezone.now()
    with transaction.atomic():
        # Two workers locking one account at once: the row lock lets only the first one mail.
        User.objects.select_for_update().filter(pk=user.pk).first()
        notify = user.is_active and not _owner_notified_recently(user)
        audit.record("auth.locked", subject=user, details={**details, "owner_notified": notify})
        if notify:
            mail.enqueue(
                template="account_locked",
                to=user.email,
                subject_id=user.pk,
                context={
                    "first_name": user.first_name,
                    "when": now.strftime("%Y-%m-%d %H:%M UTC"),
                    "ip": context.current().ip or "",
                    "failures": settings.LOGIN_LOCKOUT_FAILURES,
                    "minutes": max(1, settings.LOGIN_LOCKOUT_SECONDS // 60),
                    "link": reset_tokens.password_reset_link(user),
                    "reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
                },
            )


def lockout_clear(*, user: User, actor: User, reason: str) -> selectors.LockoutState:
    """Support lifts a user's login lockout and forgets their failed passwords (staff.LOCKOUT_CLEAR; not on
    one's own account). Audited as `auth.lockout_cleared` with the state cleared and the reason. NotLocked
    when there is nothing to clear. Returns the state it cleared."""
    staff.staff_action_authorize(actor=actor, target=user, action=staff.LOCKOUT_CLEAR)
    state = selectors.lockout_state(user=user)
    if state.is_clear:
        raise errors.NotLocked()
    with transaction.atomic():
        audit.record(
            "auth.lockout_cleared",
            actor=actor,
            subject=user,
            details={
                "reason": reason,
                "failures": state.failures,
                "locked_until": state.locked_until.isoformat(timespec="seconds")
                if state.locked_until
                else None,
            },
        )
        ratelimit.lockout_reset(str(user.pk))
    return state
