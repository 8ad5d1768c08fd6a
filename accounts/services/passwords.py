"""Password writes: reset by mailed link, change with the current password."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext

from accounts import errors, ratelimit, validators
from accounts.models import RevokeReason, Session, User
from accounts.services import reauth, sessions, staff
from accounts.services.reset_tokens import password_reset_link, reset_tokens
from audit import services as audit
from core import context, mail, outbox

RESET_TOPIC = "accounts.password_reset_requested"


def password_reset_request(*, email: str) -> None:
    """Counts the request against the address's limit and leaves the lookup and the mail to an outbox
    handler, so neither the answer nor its timing tells whether the address belongs to an account."""
    ratelimit.hit("password_reset_address", email)
    with transaction.atomic():
        outbox.publish(RESET_TOPIC, {"email": email})


def _reset_mail(user: User, *, by_staff: bool) -> None:
    mail.enqueue(
        template="password_reset",
        to=user.email,
        subject_id=user.pk,
        context={
            "first_name": user.first_name,
            "link": password_reset_link(user),
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            # A staff member's address is not the user's business.
            "ip": "" if by_staff else context.current().ip or "",
            "by_staff": by_staff,
        },
    )


def password_reset_send(*, email: str) -> bool:
    """Mail a reset link if a live, active user has this address. Returns whether one was sent."""
    user = User.objects.by_login(email).filter(is_active=True).first() if "@" in email else None
    if user is None:
        return False
    with transaction.atomic():
        audit.record("user.password_reset_requested", subject=user)
        _reset_mail(user, by_staff=False)
    return True


def password_reset_link_send(*, user: User, actor: User, reason: str) -> None:
    """Support sends a user a reset link (staff.PASSWORD_RESET_SEND), to the user's own address: the same
    link and mail as a reset the user asks for, saying support sent it. Audited as
    `user.password_reset_requested` with the staff member as actor and their reason. Nothing changes until
    the user opens the link. PasswordResetUnavailable for a deleted or deactivated user (the link would not
    work)."""
    staff.staff_action_authorize(actor=actor, target=user, action=staff.PASSWORD_RESET_SEND)
    if not user.is_live or not user.is_active:
        raise errors.PasswordResetUnavailable()
    with transaction.atomic():
        audit.record("user.password_reset_requested", actor=actor, subject=user, details={"reason": reason})
        _reset_mail(user, by_staff=True)


def _reset_user(uid: str) -> User | None:
    try:
        user_id = uuid.UUID(urlsafe_base64_decode(uid).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    return User.objects.live().filter(pk=user_id, is_active=True).first()


def _new_password_check(password: str, user: User) -> None:
    problems = validators.password_problems(password, user, field="new_password")
    if problems:
        raise errors.ValidationFailed(problems)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from a reset link. Ends every session, lifts a login lockout and, since the link
    proved the mailbox, marks the address verified. Raises InvalidToken, ValidationFailed."""
    user = _reset_user(uid)
    if user is None or not reset_tokens.check_token(user, token):
        raise errors.InvalidToken()
    _new_password_check(new_password, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        # A concurrent confirm with the same link changed the password first: the token is spent.
        if not reset_tokens.check_token(locked, token):
            raise errors.InvalidToken()
        locked.set_password(new_password)
        update = ["password"]
        if not locked.email_verified:
            locked.email_verified_at = timezone.now()
            update.append("email_verified_at")
        locked.save(update_fields=update)
        ended = sessions.sessions_revoke_all(user=locked, actor=locked, reason=RevokeReason.PASSWORD_RESET)
        audit.record(
            "user.password_reset",
            actor=locked,
            subject=locked,
            details={"sessions_ended": ended, "email_verified": "email_verified_at" in update},
        )
        _password_changed_mail(locked, how="reset")
    ratelimit.lockout_reset(str(locked.pk))
    return locked


def password_change(
    *, session: Session, current_password: str, new_password: str, otp: str | None = None
) -> int:
    """Change the password of the session's user. Ends every other session (the current one stays) and
    mails an alert. The current password is checked by the one re-auth check (wrong ones count toward the
    lockout), and for a user with MFA the second factor too. Returns the sessions ended."""
    user = session.user
    reauth.password_confirm(user=user, password=current_password, purpose="password_change")
    reauth.second_factor_check(session=session, otp=otp, purpose="password_change")
    if user.check_password(new_password):
        raise errors.ValidationFailed(
            {"new_password": [gettext("The new password must differ from the current one.")]}
        )
    _new_password_check(new_password, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        ended = sessions.sessions_revoke_all(
            user=locked, actor=locked, reason=RevokeReason.PASSWORD_CHANGED, keep=session
        )
        audit.record(
            "user.password_changed",
            actor=locked,
            subject=locked,
            details={"sessions_ended": ended, "session_id": str(session.pk)},
        )
        _password_changed_mail(locked, how="change")
    user.password = locked.password
    return ended


def password_set(*, user: User, actor: User | None, new_password: str | None) -> int:
    """Set a password without the reset link or the API's current-password check: a staff member in the
    admin (for another user, or for themselves after `reauth.password_confirm`), or the demo-staff command
    (actor None). `None` makes the password unusable (password login off). Ends every token session of
    the user (their Django sessions end too: they are bound to the password hash), lifts a login lockout,
    audits `user.password_set` with the actor and mails the password-changed alert. Returns the sessions
    ended. Raises ValidationFailed for a password the policy refuses. For another user, the actor needs
    staff.USER_CHANGE."""
    if actor is not None and actor.pk != user.pk:
        staff.staff_action_authorize(actor=actor, target=user, action=staff.USER_CHANGE)
    if new_password is not None:
        _new_password_check(new_password, user)
    own = actor is not None and actor.pk == user.pk
    reason = RevokeReason.PASSWORD_CHANGED if own else RevokeReason.PASSWORD_SET_BY_STAFF
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if new_password is None:
            locked.set_unusable_password()
        else:
            locked.set_password(new_password)
        locked.save(update_fields=["password"])
        ended = sessions.sessions_end(user=locked, actor=actor, reason=reason)
        audit.record(
            "user.password_set",
            actor=actor,
            subject=locked,
            details={"sessions_ended": ended, "usable": new_password is not None},
        )
        _password_changed_mail(locked, how="change" if own else "staff", usable=new_password is not None)
    ratelimit.lockout_reset(str(locked.pk))
    user.password = locked.password
    return ended


def _password_changed_mail(user: User, *, how: str, usable: bool = True) -> None:
    ctx: dict[str, Any] = {
        "first_name": user.first_name,
        "how": how,
        "usable": usable,
        "when": timezone.now().isoformat(timespec="seconds"),
        # A staff member's address is not the user's business.
        "ip": "" if how == "staff" else context.current().ip or "",
        "link": mail.link("/forgot-password"),
    }
    mail.enqueue(template="password_changed", to=user.email, subject_id=user.pk, context=ctx)
