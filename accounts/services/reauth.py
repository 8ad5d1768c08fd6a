"""The one password check. Every door calls it: the API login, the console and admin logins (through
accounts.backends), and every re-authentication of a signed-in user (e-mail change, password change,
account deletion, social link, MFA changes).

- Only live users match a login; an unknown login spends the same hashing time as a real check.
- One lockout counter per account, whichever door the wrong passwords came through: LOGIN_LOCKOUT_FAILURES
  failures within the window lock the account for LOGIN_LOCKOUT_SECONDS (429 `locked`), even for the right
  password. The counter is keyed by the user's id, so e-mail, username and letter case count together; an
  unknown login is counted by its lower-cased text, so a lock says nothing about existence.
- The first lock of a known account within LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS mails its owner
  (accounts.services.lockout); an unknown login mails nobody.
- One audit vocabulary: `auth.login_failed` / `auth.locked` for logins, `auth.reauth_failed` for
  re-authentication, with `details.door` (api, console, admin) or `details.purpose`.
"""

from __future__ import annotations

from django.conf import settings

from accounts import errors, ratelimit, selectors
from accounts.models import Session, User
from accounts.services import lockout
from audit import services as audit


def _account(user: User | None, login: str) -> str:
    return str(user.pk) if user is not None else f"login:{login.strip().lower()}"


def _failure(account: str, *, user: User | None) -> None:
    if ratelimit.lockout_failure(account):
        lockout.lockout_record(user=user)


def credentials_check(*, login: str, password: str, door: str) -> User:
    """The user a login (e-mail or username) and password name, or InvalidCredentials: the same answer for
    an unknown login, a wrong password, a deleted or an inactive user. AccountLocked while locked. Does not
    open a session: the door decides what a success means (a token pair, a console session)."""
    user = User.objects.by_login(login).first() if login else None
    account = _account(user, login)
    retry_after = ratelimit.lockout_retry_after(account)
    if retry_after is not None:
        audit.record("auth.login_failed", subject=user, details={"reason": "locked", "door": door})
        raise errors.AccountLocked(retry_after)
    if user is None:
        User().set_password(password)  # spend the same hashing time as a real check
        audit.record("auth.login_failed", details={"reason": "unknown_login", "door": door})
        _failure(account, user=None)
        raise errors.InvalidCredentials()
    if not user.check_password(password) or not user.is_active:
        reason = "wrong_password" if user.is_active else "inactive"
        audit.record("auth.login_failed", subject=user, details={"reason": reason, "door": door})
        _failure(account, user=user)
        raise errors.InvalidCredentials()
    ratelimit.lockout_reset(account)
    return user


def password_confirm(*, user: User, password: str, purpose: str) -> None:
    """A signed-in user types their password again before a sensitive change. Wrong passwords count toward
    the same lockout as logins (so a stolen access token is no password oracle); while locked, even the
    right password is refused."""
    account = _account(user, "")
    retry_after = ratelimit.lockout_retry_after(account)
    if retry_after is not None:
        audit.record(
            "auth.reauth_failed", actor=user, subject=user, details={"reason": "locked", "purpose": purpose}
        )
        raise errors.AccountLocked(retry_after)
    if not user.check_password(password):
        audit.record(
            "auth.reauth_failed",
            actor=user,
            subject=user,
            details={"reason": "wrong_password", "purpose": purpose},
        )
        _failure(account, user=user)
        raise errors.WrongPassword()
    ratelimit.lockout_reset(account)


def reauth_check(*, session: Session, password: str | None, purpose: str, password_required: bool) -> None:
    """The re-authentication rule of sensitive changes. A user with a password gives it (or, where
    `password_required` is False, may instead be on a session opened by a login within
    REAUTH_WINDOW_SECONDS). A user without a usable password (signed up through a provider) must be on
    such a recent session."""
    user = session.user
    if password:
        if not user.has_usable_password():
            raise errors.ReauthRequired(
                "This account has no password; log in again with your provider, then retry.",
                details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
            )
        password_confirm(user=user, password=password, purpose=purpose)
        return
    if password_required and user.has_usable_password():
        raise errors.ValidationFailed({"password": ["Your password is required for this change."]})
    if not selectors.session_is_recent(session=session):
        raise errors.ReauthRequired(
            "Send your password, or log in again, to confirm it is you.",
            details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
        )
