"""MFA routers, mounted in config/api.py: the second step of a login and passkey logins under /auth, the
management of one's own second factors under /me/mfa. See docs/mfa.md."""

from __future__ import annotations

from typing import Annotated

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import HttpRequest
from ninja import Path, Query, Router
from ninja.responses import Status

from accounts import errors as account_errors
from accounts import schemas as account_schemas
from accounts import services
from accounts.api import REAUTH_ERRORS, current_session, pair_out
from accounts.auth import session_auth
from accounts.mfa import schemas, selectors
from accounts.ratelimit import ip_throttle
from core.pagination import PageParams, page
from core.schemas import errors

auth_mfa_router = Router(tags=["auth"])
me_mfa_router = Router(tags=["mfa"], auth=session_auth)

AuthenticatorId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _added(added: services.FactorAdded) -> Status[dict[str, object]]:
    return Status(201, {"authenticator": added.authenticator, "recovery_codes": added.recovery_codes})


@auth_mfa_router.post(
    "/mfa/verify",
    operation_id="auth_mfa_verify",
    summary="Second step of a login: the mfa_token with a code or a security key's answer; opens a session",
    description=(
        "Second step of a login with MFA: exchanges the `mfa_token` of the 202 answer and a second factor for the token pair. Side effects: a session, the audit event `auth.login` (or `auth.login_failed`); a recovery code is spent and mailed about. "
        "`code`: a code of the authenticator app or a recovery code; `credential`: the WebAuthn assertion "
        "answering the `webauthn` options of the 202. 401 `challenge_invalid`: the token is unknown, expired "
        "or used (log in again). 400 `wrong_code` / `webauthn_invalid` count toward the account's lockout "
        "(429 `locked`), as wrong passwords do."
    ),
    throttle=ip_throttle("login_ip"),
    response={
        200: account_schemas.TokenPairOut,
        **errors(
            account_errors.WrongCode,
            account_errors.WebauthnInvalid,
            account_errors.ChallengeInvalid,
            422,
            429,
            account_errors.AccountLocked,
        ),
    },
)
def mfa_verify(request: HttpRequest, payload: schemas.MfaVerifyIn) -> dict[str, object]:
    opened = services.session_login_mfa(
        mfa_token=payload.mfa_token, code=payload.code, credential=payload.credential
    )
    return pair_out(opened.session.id, opened.pair)


@auth_mfa_router.post(
    "/passkey/options",
    operation_id="auth_passkey_options",
    summary="Start a passwordless login with a passkey: WebAuthn request options and their token",
    description="Starts a passwordless passkey login: WebAuthn request options and a challenge to answer with POST /auth/passkey/verify. Side effect: a short-lived challenge row.",
    throttle=ip_throttle("login_ip"),
    response={200: schemas.PasskeyOptionsOut, **errors(429)},
)
def passkey_options(request: HttpRequest) -> services.PasskeyChallenge:
    return services.passkey_login_begin()


@auth_mfa_router.post(
    "/passkey/verify",
    operation_id="auth_passkey_verify",
    summary="Finish a passkey login with the passkey's answer; opens a session (both factors at once)",
    description=(
        "Finishes a passkey login with the browser's assertion and opens a session. Side effects: a session and the audit event `auth.login` (or `auth.login_failed`). "
        "401 `invalid_credentials`: the passkey is not registered here or its answer does not verify; "
        "401 `challenge_invalid`: the passkey_token is unknown, expired or used."
    ),
    throttle=ip_throttle("login_ip"),
    response={
        200: account_schemas.TokenPairOut,
        **errors(
            account_errors.WebauthnInvalid,
            account_errors.InvalidCredentials("This passkey was not accepted."),
            account_errors.ChallengeInvalid,
            account_errors.EmailNotVerified,
            422,
            429,
        ),
    },
)
def passkey_verify(request: HttpRequest, payload: schemas.PasskeyVerifyIn) -> dict[str, object]:
    opened = services.session_login_passkey(
        passkey_token=payload.passkey_token, credential=payload.credential
    )
    return pair_out(opened.session.id, opened.pair)


# --- /me/mfa ---------------------------------------------------------------------------------------------


@me_mfa_router.get(
    "",
    operation_id="mfa_get",
    summary="Your second factors: which are on, and how many recovery codes are left",
    description="The user's MFA state: enabled methods, authenticators, recovery codes left. No side effects.",
    response={200: schemas.MfaStatusOut, **errors(401)},
)
def mfa_get(request: HttpRequest) -> dict[str, object]:
    return selectors.mfa_status(user=current_session(request).user)


@me_mfa_router.get(
    "/authenticators",
    operation_id="mfa_authenticators_list",
    summary="Your authenticators (app, security keys and passkeys, recovery codes), oldest first",
    description="The user's authenticators (TOTP app, security keys, passkeys), paginated. No side effects.",
    response={200: schemas.AuthenticatorPageOut, **errors(401, 422)},
)
def mfa_authenticators_list(request: HttpRequest, paging: Query[PageParams]) -> dict[str, object]:
    return page(selectors.authenticator_list(user=current_session(request).user), paging)


@me_mfa_router.post(
    "/totp",
    operation_id="mfa_totp_setup",
    summary="Start setting up an authenticator app: a new secret, its otpauth:// URI and QR code",
    description=(
        "Starts adding an authenticator app: a new secret and its otpauth URI, valid for a few minutes. Needs a verified e-mail (403 `email_not_verified`). Side effect: the audit event `mfa.totp_setup_started`. "
        "Confirm with POST /me/mfa/totp/confirm and a code the app shows. Starting again replaces it."
    ),
    response={
        201: schemas.TotpSetupOut,
        **errors(
            401,
            account_errors.EmailNotVerified("Verify your e-mail address before adding a second factor."),
            account_errors.TotpAlreadyEnabled,
        ),
    },
)
def mfa_totp_setup(request: HttpRequest) -> Status[dict[str, object]]:
    setup = services.totp_setup_begin(user=current_session(request).user)
    return Status(
        201,
        {
            "secret": setup.secret,
            "otpauth_uri": setup.otpauth_uri,
            "qr_code": setup.qr_code,
            "digits": settings.MFA_TOTP_DIGITS,
            "period": settings.MFA_TOTP_PERIOD,
            "expires_at": setup.expires_at,
        },
    )


@me_mfa_router.post(
    "/totp/confirm",
    operation_id="mfa_totp_enable",
    summary="Turn the authenticator app on with a code it shows; the first factor brings recovery codes",
    description=(
        "Enables the authenticator app started with POST /me/mfa/totp with a code it shows; the first factor also creates recovery codes (shown once). Side effects: the audit event `mfa.totp_enabled` and a security mail. "
        "Re-authentication as for other sensitive changes: `password` (or a login within the re-auth window), "
        "and, if another second factor is already on, `otp` (or a login that used it)."
    ),
    response={
        201: schemas.FactorAddedOut,
        **errors(
            401,
            account_errors.WrongCode(
                "The code does not match the new secret; check the device's clock and retry."
            ),
            *REAUTH_ERRORS,
            account_errors.MfaSetupExpired,
            account_errors.TotpAlreadyEnabled,
            422,
        ),
    },
)
def mfa_totp_enable(request: HttpRequest, payload: schemas.TotpEnableIn) -> Status[dict[str, object]]:
    added = services.totp_enable(
        session=current_session(request), code=payload.code, password=payload.password, otp=payload.otp
    )
    return _added(added)


@me_mfa_router.delete(
    "/totp",
    operation_id="mfa_totp_disable",
    summary="Turn the authenticator app off (re-authentication and second factor required)",
    description="Removes the authenticator app after re-authentication. Side effects: the audit event `mfa.totp_disabled` and a security mail.",
    response={
        204: None,
        **errors(
            401,
            *REAUTH_ERRORS,
            account_errors.AuthenticatorNotFound("No authenticator app is set up."),
            422,
        ),
    },
)
def mfa_totp_disable(request: HttpRequest, payload: schemas.ReauthIn) -> Status[None]:
    services.totp_disable(session=current_session(request), password=payload.password, otp=payload.otp)
    return Status(204, None)


@me_mfa_router.post(
    "/recovery-codes",
    operation_id="mfa_recovery_codes_regenerate",
    summary="New recovery codes; every older one stops working (re-authentication required)",
    description="Replaces the recovery codes with a new set, shown once; the old ones stop working. Needs re-authentication and MFA enabled (409 `mfa_not_enabled`). Side effects: the audit event `mfa.recovery_codes_generated` and a security mail.",
    response={
        201: schemas.RecoveryCodesOut,
        **errors(
            401,
            *REAUTH_ERRORS,
            account_errors.MfaNotEnabled,
            422,
        ),
    },
)
def mfa_recovery_codes_regenerate(
    request: HttpRequest, payload: schemas.ReauthIn
) -> Status[dict[str, object]]:
    codes = services.recovery_codes_regenerate(
        session=current_session(request), password=payload.password, otp=payload.otp
    )
    return Status(201, {"recovery_codes": codes})


@me_mfa_router.post(
    "/webauthn/options",
    operation_id="mfa_webauthn_options",
    summary="Start registering a security key or passkey: WebAuthn creation options",
    description=(
        "Starts adding a security key or passkey: WebAuthn creation options. Needs re-authentication and a verified e-mail. Side effect: the audit event `mfa.webauthn_setup_started`. "
        "Answer with navigator.credentials.create() and send the result to POST /me/mfa/webauthn."
    ),
    response={
        200: schemas.WebauthnOptionsOut,
        **errors(
            401,
            *REAUTH_ERRORS,
            account_errors.EmailNotVerified("Verify your e-mail address before adding a second factor."),
            account_errors.TooManyAuthenticators,
            422,
        ),
    },
)
def mfa_webauthn_options(request: HttpRequest, payload: schemas.WebauthnOptionsIn) -> services.WebauthnSetup:
    return services.webauthn_setup_begin(
        user=current_session(request).user, passwordless=payload.passwordless
    )


@me_mfa_router.post(
    "/webauthn",
    operation_id="mfa_webauthn_add",
    summary="Register the security key or passkey that answered the options, under a name",
    description="Adds the security key or passkey from the browser's attestation (after POST /me/mfa/webauthn/options). Side effects: the audit event `mfa.webauthn_added` and a security mail.",
    response={
        201: schemas.FactorAddedOut,
        **errors(
            401,
            account_errors.WebauthnInvalid,
            *REAUTH_ERRORS,
            account_errors.MfaSetupExpired,
            account_errors.TooManyAuthenticators,
            422,
        ),
    },
)
def mfa_webauthn_add(request: HttpRequest, payload: schemas.WebauthnAddIn) -> Status[dict[str, object]]:
    added = services.webauthn_add(
        session=current_session(request),
        name=payload.name,
        credential=payload.credential,
        password=payload.password,
        otp=payload.otp,
    )
    return _added(added)


@me_mfa_router.patch(
    "/webauthn/{int:authenticator_id}",
    operation_id="mfa_webauthn_rename",
    summary="Rename one of your security keys or passkeys",
    description="Renames one of the user's security keys. Another user's key answers 404. Side effect: the audit event `mfa.webauthn_renamed`.",
    response={200: schemas.AuthenticatorOut, **errors(401, account_errors.AuthenticatorNotFound, 422)},
)
def mfa_webauthn_rename(
    request: HttpRequest, authenticator_id: AuthenticatorId, payload: schemas.WebauthnRenameIn
) -> Authenticator:
    return services.webauthn_rename(
        user=current_session(request).user, authenticator_id=authenticator_id, name=payload.name
    )


@me_mfa_router.delete(
    "/webauthn/{int:authenticator_id}",
    operation_id="mfa_webauthn_remove",
    summary="Remove one of your security keys or passkeys (re-authentication and second factor required)",
    description="Removes one of the user's security keys after re-authentication. Side effects: the audit event `mfa.webauthn_removed` and a security mail.",
    response={
        204: None,
        **errors(
            401,
            *REAUTH_ERRORS,
            account_errors.AuthenticatorNotFound,
            422,
        ),
    },
)
def mfa_webauthn_remove(
    request: HttpRequest, authenticator_id: AuthenticatorId, payload: schemas.ReauthIn
) -> Status[None]:
    services.webauthn_remove(
        session=current_session(request),
        authenticator_id=authenticator_id,
        password=payload.password,
        otp=payload.otp,
    )
    return Status(204, None)
