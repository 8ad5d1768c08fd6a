"""Multi-factor authentication: enrolling and removing second factors (TOTP, WebAuthn security keys and
passkeys), recovery codes, the second step of a login and passkey logins. See docs/mfa.md.

The factors are allauth's Authenticator rows (accounts/mfa/ adapts its primitives). Every change runs under
the user's row lock, keeps User.mfa_methods in step with the rows, records its audit event and owes its
security mail in one transaction. Changes need the re-authentication of sensitive changes (reauth_check: the
password or a recent login, and the second factor once the user has one).

The login functions stop short of opening a session: `mfa_login_verify` and `passkey_login_verify` say who
passed and how (`LoginPassed`), and the door decides what that means — the API opens a token session
(accounts.services.sessions), another door may log a Django session in. So the second step is one service
whatever the door.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.mfa.base.internal.flows import delete_dangling_recovery_codes
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt, encrypt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors, tokens
from accounts.mfa import recovery, selectors, totp, webauthn
from accounts.models import MfaChallenge, Session, User
from accounts.services import factors, reauth, staff
from audit import services as audit
from core import mail

TOTP = Authenticator.Type.TOTP
RECOVERY_CODES = Authenticator.Type.RECOVERY_CODES
WEBAUTHN = Authenticator.Type.WEBAUTHN
# The amr of a passwordless passkey login: a key (possession) that verified the user (PIN or biometric).
PASSKEY_AMR = ("hwk", "user", "mfa")


@dataclass(frozen=True)
class MfaRequired:
    """The first factor passed; the login continues with `mfa_token` and one of `methods`."""

    mfa_token: str
    expires_at: datetime
    methods: list[str]
    # WebAuthn request options for the user's keys, when they have any.
    webauthn: dict[str, Any] | None


@dataclass(frozen=True)
class LoginPassed:
    """Both factors passed: who, how (`amr` for the session), and the session id the challenge reserved."""

    user: User
    via: str
    amr: list[str]
    session_id: uuid.UUID
    factor: factors.FactorUsed


@dataclass(frozen=True)
class PasskeyChallenge:
    passkey_token: str
    expires_at: datetime
    public_key: dict[str, Any]


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_code: str
    expires_at: datetime


@dataclass(frozen=True)
class WebauthnSetup:
    public_key: dict[str, Any]
    expires_at: datetime


@dataclass(frozen=True)
class FactorAdded:
    authenticator: Authenticator
    # The recovery codes generated with the user's first factor, shown this once; None afterwards.
    recovery_codes: list[str] | None


# --- helpers ---------------------------------------------------------------------------------------------


def _user_lock(user: User) -> None:
    # Serialises the MFA changes of one user (two removals must not each leave "another factor").
    User.objects.select_for_update().filter(pk=user.pk).first()


def _methods_sync(user: User) -> list[str]:
    """Copy the user's authenticator types onto User.mfa_methods (in the caller's transaction)."""
    present = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    methods = [method for method in selectors.METHOD_ORDER if method in present]
    User.objects.filter(pk=user.pk).update(mfa_methods=methods)
    user.mfa_methods = methods
    return methods


def _recovery_codes_create(user: User, *, auto: bool) -> list[str]:
    codes = recovery.codes_new()
    Authenticator.objects.create(
        user=user,
        type=RECOVERY_CODES,
        data={"hashes": [recovery.code_hash(user.pk, code) for code in codes], "used_mask": 0},
    )
    audit.record(
        "mfa.recovery_codes_generated", actor=user, subject=user, details={"count": len(codes), "auto": auto}
    )
    return codes


def _recovery_codes_ensure(user: User) -> list[str] | None:
    """Recovery codes come with the first factor (returned to be shown once); None when the user has them."""
    if Authenticator.objects.filter(user=user, type=RECOVERY_CODES).exists():
        return None
    return _recovery_codes_create(user, auto=True)


def _mail(template: str, user: User, **context: Any) -> None:
    mail.enqueue(
        template=template,
        to=user.email,
        subject_id=user.pk,
        context={
            "first_name": user.first_name,
            "when": timezone.now().isoformat(timespec="seconds"),
            "link": mail.link("/account/security"),
            **context,
        },
    )


def _token() -> tuple[str, str]:
    raw = secrets.token_urlsafe(32)
    return raw, tokens.token_hash(raw)


def _amr(*parts: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for part in parts:
        seen += [value for value in part if value not in seen]
    return seen


def _email_verified(user: User) -> None:
    # An address nobody proved could be someone else's: a second factor on it could lock its owner out.
    if not user.email_verified:
        raise errors.EmailNotVerified(gettext("Verify your e-mail address before adding a second factor."))


# --- the second step of a login --------------------------------------------------------------------------


def mfa_login_challenge(*, user: User, via: str, amr: Sequence[str], door: str) -> MfaRequired:
    """The first factor (`via`: password or a provider) passed for a user with MFA: a single-use
    `mfa_token` valid for MFA_LOGIN_TIMEOUT_SECONDS, bound to this login (only its hash is stored), and the
    methods the user can finish it with. Called only after the first factor passed, so it tells nothing to
    someone who does not know the password."""
    methods = list(user.mfa_methods)
    data: dict[str, Any] = {}
    options = None
    if WEBAUTHN in methods:
        options, data["webauthn"] = webauthn.authentication_begin(
            selectors.webauthn_list(user=user), user_verification=settings.MFA_WEBAUTHN_USER_VERIFICATION
        )
    raw, token_hash = _token()
    expires_at = timezone.now() + timedelta(seconds=settings.MFA_LOGIN_TIMEOUT_SECONDS)
    with transaction.atomic():
        MfaChallenge.objects.create(
            kind=MfaChallenge.Kind.LOGIN,
            user=user,
            token_hash=token_hash,
            session_id=uuid.uuid4(),
            via=via,
            amr=list(amr),
            data=data,
            expires_at=expires_at,
        )
        audit.record(
            "auth.mfa_challenged",
            actor=user,
            subject=user,
            details={"door": door, "via": via, "methods": methods},
        )
    return MfaRequired(mfa_token=raw, expires_at=expires_at, methods=methods, webauthn=options)


def _spend(challenge_id: uuid.UUID) -> None:
    deleted, _ = MfaChallenge.objects.filter(pk=challenge_id).delete()
    if not deleted:
        raise errors.ChallengeInvalid()


def mfa_login_verify(
    *,
    mfa_token: str,
    door: str,
    code: str | None = None,
    credential: dict[str, Any] | None = None,
    spend: bool = True,
) -> LoginPassed:
    """The second step: `code` (TOTP or recovery code) or `credential` (a WebAuthn assertion answering the
    options of the challenge) for the login `mfa_token` started. Wrong answers count toward the account's
    lockout (reauth.second_factor_confirm); the token stays usable until it expires or the login completes.

    Single use: with `spend` the challenge is deleted here. The API passes spend=False because it opens the
    session whose id the challenge reserved, in a transaction of its own, and that insert is the spending (a
    second verify fails on the session's primary key), which saves the login a query.

    Raises ChallengeInvalid (unknown, expired or used token; user gone or deactivated), AccountLocked,
    WrongCode, WebauthnInvalid."""
    token_hash = tokens.token_hash(mfa_token)
    kind = MfaChallenge.Kind.LOGIN
    types = [TOTP, RECOVERY_CODES] if code is not None else [WEBAUTHN]
    pending = selectors.login_challenge(token_hash=token_hash, kind=kind, types=types)
    if pending is None:
        challenge = selectors.live_challenges(token_hash=token_hash, kind=kind).select_related("user").first()
        user = challenge.user if challenge is not None else None
        if user is None or not user.is_live or not user.is_active:
            raise errors.ChallengeInvalid()
        # The user has no factor of the kind sent (a key answer without keys): wrong, but no guess at a secret.
        raise errors.WrongCode() if code is not None else errors.WebauthnInvalid()
    used = reauth.second_factor_confirm(
        user=pending.user,
        purpose="login",
        door=door,
        code=code,
        credential=credential,
        state=pending.data.get("webauthn"),
        authenticators=pending.authenticators,
    )
    if spend:
        _spend(pending.challenge_id)
    return LoginPassed(
        user=pending.user,
        via=pending.via,
        amr=_amr(pending.amr, used.amr, ["mfa"]),
        session_id=pending.session_id,
        factor=used,
    )


def passkey_login_begin() -> PasskeyChallenge:
    """Options for a passwordless login with a passkey (any discoverable credential of this relying party,
    user verification required), and the token that binds the answer to them. Nothing is audited: nobody is
    known yet; the row is a challenge, deleted when it expires."""
    options, state = webauthn.authentication_begin(None, user_verification="required")
    raw, token_hash = _token()
    expires_at = timezone.now() + timedelta(seconds=settings.MFA_LOGIN_TIMEOUT_SECONDS)
    MfaChallenge.objects.create(
        kind=MfaChallenge.Kind.PASSKEY_LOGIN,
        token_hash=token_hash,
        session_id=uuid.uuid4(),
        via="passkey",
        data={"webauthn": state},
        expires_at=expires_at,
    )
    return PasskeyChallenge(passkey_token=raw, expires_at=expires_at, public_key=options)


def passkey_login_verify(
    *, passkey_token: str, credential: dict[str, Any], door: str, spend: bool = True
) -> LoginPassed:
    """A passkey's answer to passkey_login_begin's options: both factors at once (the key, and the user it
    verified). A refused answer is audited but does not count toward the password lockout — there is no
    secret to guess, and a lock would let anyone shut a user out of their passkey. `spend` as in
    mfa_login_verify. Raises ChallengeInvalid, InvalidCredentials, EmailNotVerified."""
    token_hash = tokens.token_hash(passkey_token)
    kind = MfaChallenge.Kind.PASSKEY_LOGIN
    user_id = webauthn.user_id_of(credential)
    pending = (
        selectors.login_challenge(token_hash=token_hash, kind=kind, types=[WEBAUTHN], user_id=user_id)
        if user_id is not None
        else None
    )
    refused = errors.InvalidCredentials(gettext("This passkey was not accepted."))
    if pending is None:
        if not selectors.live_challenges(token_hash=token_hash, kind=kind).exists():
            raise errors.ChallengeInvalid()
        audit.record("auth.login_failed", details={"reason": "unknown_passkey", "door": door})
        raise refused
    user = pending.user
    used = factors.assertion_check(
        user=user,
        credential=credential,
        state=pending.data.get("webauthn"),
        authenticators=pending.authenticators,
    )
    if used is None:
        audit.record("auth.login_failed", subject=user, details={"reason": "passkey_refused", "door": door})
        raise refused
    if not user.email_verified:
        raise errors.EmailNotVerified()
    if spend:
        _spend(pending.challenge_id)
    return LoginPassed(
        user=user, via=pending.via, amr=list(PASSKEY_AMR), session_id=pending.session_id, factor=used
    )


# --- TOTP ------------------------------------------------------------------------------------------------


def totp_setup_begin(*, user: User) -> TotpSetup:
    """A new TOTP secret to scan (URI and QR code), waiting MFA_SETUP_TIMEOUT_SECONDS for its first code
    (totp_enable). Starting again replaces it. Stored encrypted, like the secret of an enabled TOTP."""
    _email_verified(user)
    if Authenticator.objects.filter(user=user, type=TOTP).exists():
        raise errors.TotpAlreadyEnabled()
    secret = totp.secret_new()
    uri = totp.otpauth_uri(user, secret)
    expires_at = timezone.now() + timedelta(seconds=settings.MFA_SETUP_TIMEOUT_SECONDS)
    with transaction.atomic():
        MfaChallenge.objects.filter(user=user, kind=MfaChallenge.Kind.TOTP_SETUP).delete()
        MfaChallenge.objects.create(
            kind=MfaChallenge.Kind.TOTP_SETUP,
            user=user,
            data={"secret": encrypt(secret)},
            expires_at=expires_at,
        )
        audit.record("mfa.totp_setup_started", actor=user, subject=user)
    return TotpSetup(
        secret=secret, otpauth_uri=uri, qr_code=totp.qr_code_data_uri(uri), expires_at=expires_at
    )


def totp_enable(
    *, session: Session, code: str, password: str | None = None, otp: str | None = None
) -> FactorAdded:
    """Turn TOTP on with the first code of the secret totp_setup_begin handed out (that code is then spent).
    The user's first factor brings recovery codes, returned this once. Mails the user."""
    reauth.reauth_check(
        session=session, password=password, purpose="mfa_totp_enable", password_required=False, otp=otp
    )
    return _totp_confirm(session.user, code)


def totp_enable_after_login(*, user: User, code: str, authenticated_at: datetime | None) -> FactorAdded:
    """TOTP on, at a door that keeps no Session row (the console's Django session), for a user enrolling
    right after a login: `authenticated_at` (when that login passed) stands for the re-authentication of
    totp_enable and must be within REAUTH_WINDOW_SECONDS (else ReauthRequired). Only a first factor: a user
    who has one already proves it through totp_enable's step-up instead (SecondFactorRequired)."""
    window = timedelta(seconds=settings.REAUTH_WINDOW_SECONDS)
    if authenticated_at is None or timezone.now() - authenticated_at > window:
        raise errors.ReauthRequired(
            "Sign in again to confirm it is you.", details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS}
        )
    if user.mfa_enabled:
        raise errors.SecondFactorRequired(
            details={"methods": list(user.mfa_methods), "max_age_seconds": settings.REAUTH_WINDOW_SECONDS}
        )
    return _totp_confirm(user, code)


def _totp_confirm(user: User, code: str) -> FactorAdded:
    pending = selectors.setup_pending(user=user, kind=MfaChallenge.Kind.TOTP_SETUP)
    if pending is None:
        raise errors.MfaSetupExpired()
    step = totp.step_of(decrypt(pending.data["secret"]), code)
    if step is None:
        raise errors.WrongCode(
            gettext("The code does not match the new secret; check the device's clock and retry.")
        )
    try:
        with transaction.atomic():
            _user_lock(user)
            # The setup is single use: of two concurrent confirmations one finds it gone.
            if not MfaChallenge.objects.filter(pk=pending.pk).delete()[0]:
                raise errors.MfaSetupExpired()
            authenticator = Authenticator.objects.create(
                user=user, type=TOTP, data={"secret": pending.data["secret"], "last_step": step}
            )
            codes = _recovery_codes_ensure(user)
            _methods_sync(user)
            audit.record(
                "mfa.totp_enabled", actor=user, subject=user, details={"authenticator_id": authenticator.pk}
            )
            _mail("mfa_enabled", user, method="totp", first=codes is not None)
    except IntegrityError:
        # allauth's unique (user, type) constraint: TOTP was enabled meanwhile.
        raise errors.TotpAlreadyEnabled()
    return FactorAdded(authenticator=authenticator, recovery_codes=codes)


def _factor_removed(
    user: User, *, action: str, details: dict[str, Any], method: str, key_name: str = ""
) -> None:
    """After an authenticator is deleted: drop recovery codes left without a factor, re-sync, audit, mail."""
    dangling = delete_dangling_recovery_codes(user)
    methods = _methods_sync(user)
    audit.record(
        action,
        actor=user,
        subject=user,
        details={**details, "mfa_off": not methods, "recovery_codes_deleted": dangling is not None},
    )
    # The factor travels as a kind ("totp" | "webauthn"), not a phrase: the template words it in the
    # recipient's language.
    _mail("mfa_disabled", user, method=method, key_name=key_name, still_on=bool(methods))


def totp_disable(*, session: Session, password: str | None = None, otp: str | None = None) -> None:
    user = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="mfa_totp_disable", password_required=False, otp=otp
    )
    with transaction.atomic():
        _user_lock(user)
        app = Authenticator.objects.filter(user=user, type=TOTP).first()
        if app is None:
            raise errors.AuthenticatorNotFound(gettext("No authenticator app is set up."))
        app.delete()
        _factor_removed(user, action="mfa.totp_disabled", details={}, method="totp")


# --- recovery codes --------------------------------------------------------------------------------------


def recovery_codes_regenerate(
    *, session: Session, password: str | None = None, otp: str | None = None
) -> list[str]:
    """New recovery codes replace every old one (used or not); returned this once. Mails the user."""
    user = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="mfa_recovery_codes", password_required=False, otp=otp
    )
    with transaction.atomic():
        _user_lock(user)
        if not Authenticator.objects.filter(user=user).exclude(type=RECOVERY_CODES).exists():
            raise errors.MfaNotEnabled()
        Authenticator.objects.filter(user=user, type=RECOVERY_CODES).delete()
        codes = _recovery_codes_create(user, auto=False)
        _methods_sync(user)
        _mail("recovery_codes_regenerated", user, count=len(codes))
    return codes


# --- WebAuthn: security keys and passkeys ----------------------------------------------------------------


def webauthn_setup_begin(*, user: User, passwordless: bool) -> WebauthnSetup:
    """Creation options for a new security key, or with `passwordless` a passkey (discoverable, verifying
    the user, so it can also log in on its own). Starting again replaces a registration in progress."""
    _email_verified(user)
    keys = selectors.webauthn_list(user=user)
    if len(keys) >= settings.MFA_WEBAUTHN_MAX_CREDENTIALS:
        raise errors.TooManyAuthenticators()
    options, state = webauthn.registration_begin(user, passwordless=passwordless, existing=keys)
    expires_at = timezone.now() + timedelta(seconds=settings.MFA_SETUP_TIMEOUT_SECONDS)
    with transaction.atomic():
        MfaChallenge.objects.filter(user=user, kind=MfaChallenge.Kind.WEBAUTHN_SETUP).delete()
        MfaChallenge.objects.create(
            kind=MfaChallenge.Kind.WEBAUTHN_SETUP,
            user=user,
            data={"state": state, "passwordless": passwordless},
            expires_at=expires_at,
        )
        audit.record(
            "mfa.webauthn_setup_started", actor=user, subject=user, details={"passwordless": passwordless}
        )
    return WebauthnSetup(public_key=options, expires_at=expires_at)


def webauthn_add(
    *,
    session: Session,
    name: str,
    credential: dict[str, Any],
    password: str | None = None,
    otp: str | None = None,
) -> FactorAdded:
    """Store the key that answered webauthn_setup_begin's options, under `name`. The user's first factor
    brings recovery codes, returned this once. Mails the user."""
    user = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="mfa_webauthn_add", password_required=False, otp=otp
    )
    pending = selectors.setup_pending(user=user, kind=MfaChallenge.Kind.WEBAUTHN_SETUP)
    if pending is None:
        raise errors.MfaSetupExpired()
    try:
        webauthn.registration_complete(pending.data["state"], credential)
    except webauthn.WebauthnRefused:
        raise errors.WebauthnInvalid()
    passwordless = bool(pending.data.get("passwordless")) or webauthn.is_passwordless(credential)
    with transaction.atomic():
        _user_lock(user)
        if not MfaChallenge.objects.filter(pk=pending.pk).delete()[0]:
            raise errors.MfaSetupExpired()
        if (
            Authenticator.objects.filter(user=user, type=WEBAUTHN).count()
            >= settings.MFA_WEBAUTHN_MAX_CREDENTIALS
        ):
            raise errors.TooManyAuthenticators()
        # allauth's WebAuthn data ({"name", "credential"}: the browser's registration answer, public parts
        # only), plus whether it is a passkey.
        authenticator = Authenticator.objects.create(
            user=user,
            type=WEBAUTHN,
            data={"name": name, "credential": credential, "passwordless": passwordless},
        )
        codes = _recovery_codes_ensure(user)
        _methods_sync(user)
        audit.record(
            "mfa.webauthn_added",
            actor=user,
            subject=user,
            details={"authenticator_id": authenticator.pk, "name": name, "passwordless": passwordless},
        )
        _mail("webauthn_added", user, name=name, passkey=passwordless, first=codes is not None)
    return FactorAdded(authenticator=authenticator, recovery_codes=codes)


def _own_key(user: User, authenticator_id: int) -> Authenticator:
    key = Authenticator.objects.filter(pk=authenticator_id, user=user, type=WEBAUTHN).first()
    if key is None:
        raise errors.AuthenticatorNotFound()
    return key


def webauthn_rename(*, user: User, authenticator_id: int, name: str) -> Authenticator:
    """A label only, so no re-authentication. 404 for another user's id."""
    with transaction.atomic():
        key = _own_key(user, authenticator_id)
        if key.data.get("name") != name:
            key.data = {**key.data, "name": name}
            key.save(update_fields=["data"])
            audit.record(
                "mfa.webauthn_renamed",
                actor=user,
                subject=user,
                details={"authenticator_id": key.pk, "name": name},
            )
    return key


def webauthn_remove(
    *, session: Session, authenticator_id: int, password: str | None = None, otp: str | None = None
) -> None:
    user = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="mfa_webauthn_remove", password_required=False, otp=otp
    )
    with transaction.atomic():
        _user_lock(user)
        key = _own_key(user, authenticator_id)
        name = str(key.data.get("name", ""))
        key.delete()
        _factor_removed(
            user,
            action="mfa.webauthn_removed",
            details={"authenticator_id": authenticator_id, "name": name},
            method="webauthn",
            key_name=name,
        )


# --- staff reset ----------------------------------------------------------------------------------------


def mfa_reset(*, actor: User, user: User, reason: str) -> dict[str, int]:
    """Staff remove every second factor of a user who lost them all (and their recovery codes): every
    authenticator and pending challenge goes, MFA is off, the user is mailed. Needs `accounts.reset_mfa`
    and the rank rule (staff.MFA_RESET); the reason is required and audited (`mfa.reset`)."""
    reason = reason.strip()
    if not reason:
        raise errors.ValidationFailed({"reason": [gettext("Say why the second factors are reset.")]})
    staff.staff_action_authorize(actor=actor, target=user, action=staff.MFA_RESET)
    with transaction.atomic():
        _user_lock(user)
        if not Authenticator.objects.filter(user=user).exists():
            raise errors.MfaNotEnabled(gettext("This account has no second factor to reset."))
        methods = list(User.objects.filter(pk=user.pk).values_list("mfa_methods", flat=True).first() or [])
        authenticators, _ = Authenticator.objects.filter(user=user).delete()
        challenges, _ = MfaChallenge.objects.filter(user=user).delete()
        _methods_sync(user)
        audit.record(
            "mfa.reset",
            actor=actor,
            subject=user,
            details={
                "reason": reason,
                "methods": methods,
                "authenticators": authenticators,
                "challenges": challenges,
            },
        )
        _mail("mfa_reset", user)
    return {"authenticators": authenticators, "mfa_challenges": challenges}


# --- erasure and retention -------------------------------------------------------------------------------


def mfa_erase(*, user: User) -> dict[str, int]:
    """Erasure of a user's second factors: every authenticator and challenge goes (no mail: the erasure
    has its own). Idempotent; audited when it removed anything. Returns counts for the erasure's record."""
    with transaction.atomic():
        authenticators, _ = Authenticator.objects.filter(user=user).delete()
        challenges, _ = MfaChallenge.objects.filter(user=user).delete()
        if user.mfa_methods or authenticators:
            User.objects.filter(pk=user.pk).update(mfa_methods=[])
            user.mfa_methods = []
        if authenticators or challenges:
            audit.record(
                "mfa.erased",
                subject=user,
                details={"authenticators": authenticators, "challenges": challenges},
            )
    return {"authenticators": authenticators, "mfa_challenges": challenges}


def mfa_challenges_purge(*, dry_run: bool = False) -> int:
    """Delete expired challenges (login tokens, passkey challenges, abandoned enrollments)."""
    expired = MfaChallenge.objects.filter(expires_at__lte=timezone.now())
    if dry_run:
        return expired.count()
    with transaction.atomic():
        count, _ = expired.delete()
        if count:
            audit.record("retention.mfa_challenges_purged", details={"count": count})
    return count
