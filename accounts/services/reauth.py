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
- The second factor (TOTP code, recovery code, WebAuthn key) has its one check too, second_factor_confirm:
  wrong codes count toward the same lockout, with the same vocabulary (`details.reason` wrong_code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.utils.translation import gettext

from accounts import errors, ratelimit, selectors
from accounts.models import Session, User
from accounts.services import factors, lockout
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


def reauth_check(
    *,
    session: Session,
    password: str | None,
    purpose: str,
    password_required: bool,
    otp: str | None = None,
) -> None:
    """The re-authentication rule of sensitive changes. A user with a password gives it (or, where
    `password_required` is False, may instead be on a session opened by a login within
    REAUTH_WINDOW_SECONDS). A user without a usable password (signed up through a provider) must be on
    such a recent session. A user with MFA also proves the second factor (second_factor_check)."""
    user = session.user
    if password:
        if not user.has_usable_password():
            raise errors.ReauthRequired(
                gettext("This account has no password; log in again with your provider, then retry."),
                details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
            )
        password_confirm(user=user, password=password, purpose=purpose)
    else:
        if password_required and user.has_usable_password():
            raise errors.ValidationFailed(
                {"password": [gettext("Your password is required for this change.")]}
            )
        if not selectors.session_is_recent(session=session):
            raise errors.ReauthRequired(
                gettext("Send your password, or log in again, to confirm it is you."),
                details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
            )
    second_factor_check(session=session, otp=otp, purpose=purpose)


# --- the second factor -----------------------------------------------------------------------------------


def second_factor_confirm(
    *,
    user: User,
    purpose: str,
    code: str | None = None,
    credential: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    authenticators: Sequence[Authenticator] | None = None,
    door: str | None = None,
) -> factors.FactorUsed:
    """The one check of a second factor, as password_confirm is of passwords: a TOTP or recovery `code`, or
    a WebAuthn `credential` answering `state`. Wrong answers count toward the same lockout as wrong
    passwords, whichever door they came through; while the account is locked even a right one is refused.

    With `door` (api, console, …) this is the second step of a login and failures are audited as
    `auth.login_failed`; without, a re-authentication (`auth.reauth_failed` with `purpose`). Returns the
    factor used; raises AccountLocked, WrongCode or WebauthnInvalid."""
    account = _account(user, "")

    def failed(reason: str) -> None:
        if door is not None:
            details = {"reason": reason, "door": door, "step": "mfa"}
            audit.record("auth.login_failed", subject=user, details=details)
        else:
            details = {"reason": reason, "purpose": purpose}
            audit.record("auth.reauth_failed", actor=user, subject=user, details=details)

    retry_after = ratelimit.lockout_retry_after(account)
    if retry_after is not None:
        failed("locked")
        raise errors.AccountLocked(retry_after)
    if code is not None:
        used = factors.code_check(user=user, code=code, authenticators=authenticators)
    else:
        used = factors.assertion_check(
            user=user, credential=credential or {}, state=state, authenticators=authenticators
        )
    if used is None:
        failed("wrong_code" if code is not None else "webauthn_refused")
        _failure(account, user=user)
        raise errors.WrongCode() if code is not None else errors.WebauthnInvalid()
    ratelimit.lockout_reset(account)
    return used


def second_factor_check(*, session: Session, otp: str | None, purpose: str) -> None:
    """Step-up for a user with MFA: a sensitive change needs the second factor too, either as `otp` (a TOTP
    or recovery code, checked by second_factor_confirm) or by being on a session whose login used a second
    factor (its amr has "mfa") within REAUTH_WINDOW_SECONDS. Users without MFA pass."""
    user = session.user
    if not user.mfa_enabled:
        return
    if otp:
        second_factor_confirm(user=user, code=otp, purpose=purpose)
        return
    if "mfa" in session.amr and selectors.session_is_recent(session=session):
        return
    raise errors.SecondFactorRequired(
        details={"methods": list(user.mfa_methods), "max_age_seconds": settings.REAUTH_WINDOW_SECONDS}
    )
