"""Ninja routers of the accounts app: parse input, call one service or selector, serialize."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from accounts import errors as account_errors
from accounts import ratelimit, schemas, selectors, services, tokens
from accounts.auth import session_auth
from accounts.mfa.schemas import MfaRequiredOut
from accounts.models import RevokeReason, Session, User
from accounts.ratelimit import ip_throttle
from audit import selectors as audit_selectors
from core.pagination import PageParams, page
from core.schemas import answer_example, errors

RESEND_DETAIL = "If an unverified account uses this address, a new link is on its way."
DELETED_DETAIL = "Your account is deleted; your data will be erased after review."
RESET_DETAIL = "If an account uses this address, a reset link is on its way."
RESET_DONE_DETAIL = "Your password is changed. Every session has ended; log in again."
EMAIL_CHANGE_DETAIL = "If the address can be used, a confirmation link is on its way to it."

# What the re-authentication of a sensitive change can answer (accounts.services.reauth_check): the
# current password wrong, no password on a session that is not recent, the second factor missing or wrong,
# the account locked by failed attempts.
REAUTH_ERRORS = (
    account_errors.WrongPassword,
    account_errors.ReauthRequired(
        "Send your password, or log in again, to confirm it is you.",
        details={"max_age_seconds": settings.REAUTH_WINDOW_SECONDS},
    ),
    account_errors.SecondFactorRequired,
    account_errors.WrongCode,
    account_errors.WebauthnInvalid,
    account_errors.AccountLocked,
)

auth_router = Router(tags=["auth"])
me_router = Router(tags=["me"], auth=session_auth)


def pair_out(session_id: uuid.UUID, pair: tokens.TokenPair) -> dict[str, object]:
    """The body of a token answer (password and social login, refresh)."""
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
        "refresh_expires_at": pair.refresh_expires_at,
        "session_id": session_id,
    }


def pair_body(session_id: uuid.UUID, pair: tokens.TokenPair) -> schemas.TokenPairOut:
    """pair_out as the TokenPairOut it is, built without validating our own values again (ninja only dumps
    it; tests/perf/test_hot_path_parity.py compares it with the validated answer)."""
    return schemas.TokenPairOut.model_construct(**pair_out(session_id, pair))  # type: ignore[arg-type]


def current_session(request: HttpRequest) -> Session:
    """The session that authenticated the request (behind `session_auth`)."""
    session: Session = request.auth  # type: ignore[attr-defined]
    return session


def _me(request: HttpRequest) -> User:
    return current_session(request).user


@auth_router.post(
    "/register",
    operation_id="auth_register",
    summary="Create an account and send the verification mail",
    description="Creates an unverified account and its profile. Side effects: a verification mail to the address (link under FRONTEND_URL) and the audit event `user.registered`. Unknown fields are ignored. Besides the per-IP limit, `register_address` limits attempts per address (429 `rate_limited`).",
    throttle=ip_throttle("register_ip"),
    response={
        201: schemas.UserOut,
        **errors(400, account_errors.EmailTaken, account_errors.UsernameTaken, 422, 429),
    },
)
def register(request: HttpRequest, payload: schemas.RegisterIn) -> Status[User]:
    user = services.user_register(**payload.model_dump())
    return Status(201, user)


@auth_router.post(
    "/email/verify",
    operation_id="auth_email_verify",
    summary="Verify an e-mail address with the key from the mail",
    description="Consumes the single-use key from the verification mail and marks the address verified. Side effects: a welcome mail and the audit event `user.email_verified`. A used, expired or tampered key answers 400 `invalid_key`.",
    response={200: schemas.UserOut, **errors(account_errors.InvalidKey, 422, 429)},
)
def email_verify(request: HttpRequest, payload: schemas.VerifyEmailIn) -> User:
    return services.email_verify(key=payload.key)


@auth_router.post(
    "/email/resend",
    operation_id="auth_email_resend",
    summary="Send the verification mail again (same answer whether or not the address is known)",
    description="Sends the verification mail again when a live, unverified account uses the address; the answer is the same 202 whether or not it does, so it tells nothing about which addresses are registered. Side effect (when it applies): the mail, sent from the outbox. `resend_address` also limits it per address.",
    throttle=ip_throttle("resend_ip"),
    openapi_extra=answer_example(202, {"detail": RESEND_DETAIL}),
    response={202: schemas.AcceptedOut, **errors(422, 429)},
)
def email_resend(request: HttpRequest, payload: schemas.ResendIn) -> Status[dict[str, str]]:
    services.email_verification_resend(email=payload.email)
    return Status(202, {"detail": RESEND_DETAIL})


@auth_router.post(
    "/token",
    operation_id="auth_login",
    summary="Log in with e-mail or username and password; opens a session",
    description=(
        "Checks `login` (e-mail or username) and `password` and opens a session (one per device). Side effects: a session row, the audit event `auth.login` (or `auth.login_failed`), a new-sign-in mail when enabled; failed passwords count towards the account's lockout, which mails the owner once per interval. "
        "200: the token pair. 202: the password is right and the account has MFA: no tokens yet; finish with "
        "POST /auth/mfa/verify and the `mfa_token` (docs/mfa.md). "
        "429 `rate_limited`: too many attempts from this IP. 429 `locked`: too many failed passwords for this "
        "account; even the right password is refused until Retry-After seconds have passed."
    ),
    throttle=ip_throttle("login_ip"),
    response={
        200: schemas.TokenPairOut,
        202: MfaRequiredOut,
        **errors(
            account_errors.InvalidCredentials,
            account_errors.EmailNotVerified,
            422,
            429,
            account_errors.AccountLocked,
        ),
    },
)
def login(
    request: HttpRequest, payload: schemas.LoginIn
) -> schemas.TokenPairOut | Status[services.MfaRequired]:
    outcome = services.session_login(login=payload.login, password=payload.password)
    if isinstance(outcome, services.MfaRequired):
        return Status(202, outcome)
    return pair_body(outcome.session.id, outcome.pair)


@auth_router.post(
    "/token/refresh",
    operation_id="auth_token_refresh",
    summary="Rotate a refresh token: a new pair; the presented token is spent",
    description="Rotates a refresh token: answers a new access and refresh token pair and spends the presented one. Presenting a spent token again is treated as theft: 401 `token_reused`, the whole session is revoked and the user gets an alert mail. Side effects: the audit event `session.refreshed` (or `session.token_reused`).",
    response={
        200: schemas.TokenPairOut,
        **errors(
            account_errors.TokenInvalid, account_errors.TokenReused, account_errors.SessionRevoked, 422, 429
        ),
    },
    throttle=[ratelimit.CredentialCeiling("refresh")],
)
def token_refresh(request: HttpRequest, payload: schemas.RefreshIn) -> schemas.TokenPairOut:
    refreshed = services.token_refresh(refresh=payload.refresh, unless_rotated=ratelimit.anonymous_hit)
    return pair_body(refreshed.session_id, refreshed.pair)


@auth_router.post(
    "/token/verify",
    operation_id="auth_token_verify",
    summary="Check that a token would be accepted now: valid, its session live, a refresh token not yet spent",
    description="Checks an access or refresh token without using it: its signature and expiry, that its session is live, and that a refresh token is not spent. No side effects.",
    response={
        200: schemas.TokenVerifyOut,
        **errors(account_errors.TokenInvalid, account_errors.SessionRevoked, 422, 429),
    },
)
def token_verify(request: HttpRequest, payload: schemas.TokenVerifyIn) -> dict[str, object]:
    claims = selectors.token_claims_live(raw=payload.token)
    return {
        "valid": True,
        "token_type": claims.token_type,
        "session_id": claims.session_id,
        "expires_at": claims.expires_at,
    }


@auth_router.post(
    "/logout",
    operation_id="auth_logout",
    summary="End the current session",
    description="Revokes the session of the access token used; its refresh token stops working at once. Side effect: the audit event `session.revoked` (reason `logout`).",
    auth=session_auth,
    response={204: None, **errors(401)},
)
def logout(request: HttpRequest) -> Status[None]:
    current = current_session(request)
    services.session_revoke(session=current, actor=current.user, reason=RevokeReason.LOGOUT)
    return Status(204, None)


@auth_router.post(
    "/logout-all",
    operation_id="auth_logout_all",
    summary="End every session of the user (optionally keeping this one)",
    description="Revokes every session of the user, or every other one with `keep_current=true`. Side effect: the audit event `session.revoked_all` with the count.",
    auth=session_auth,
    response={204: None, **errors(401, 422)},
)
def logout_all(request: HttpRequest, query: Query[schemas.LogoutAllQuery]) -> Status[None]:
    current = current_session(request)
    services.sessions_revoke_all(
        user=current.user, actor=current.user, keep=current if query.keep_current else None
    )
    return Status(204, None)


@me_router.get(
    "",
    operation_id="me_get",
    summary="The current user with profile",
    description="The signed-in user with the profile. No side effects.",
    response={200: schemas.UserOut, **errors(401)},
)
def me_get(request: HttpRequest) -> schemas.UserOut:
    return schemas.user_out(_me(request))


@me_router.patch(
    "",
    operation_id="me_update",
    summary="Update names, username and profile fields",
    description="Changes names, username and profile fields; only the fields sent are changed, unknown fields (`email`, `is_staff`, ...) are ignored. Side effect: the audit event `user.updated` naming the changed fields.",
    response={200: schemas.UserOut, **errors(401, account_errors.UsernameTaken, 422)},
)
def me_update(request: HttpRequest, payload: schemas.MeUpdateIn) -> schemas.UserOut:
    user = _me(request)
    changes = payload.model_dump(exclude_unset=True)
    return schemas.user_out(services.user_update(user=user, actor=user, changes=changes))


@me_router.delete(
    "",
    operation_id="me_delete",
    summary="Delete the account (soft delete now; erasure follows after review)",
    description="Soft-deletes the account now: every session ends, the e-mail and username are free to register again, and an erasure request opens for staff review (docs/gdpr.md). Needs the current password (and a second factor when MFA is on). Side effects: the audit event `user.deleted`, an `account_deleted` mail, the erasure request. Wrong passwords count towards the lockout (429 `locked`).",
    openapi_extra=answer_example(202, {"detail": DELETED_DETAIL}),
    response={
        202: schemas.AcceptedOut,
        **errors(
            401,
            *REAUTH_ERRORS,
            422,
        ),
    },
)
def me_delete(request: HttpRequest, payload: schemas.DeleteMeIn) -> Status[dict[str, str]]:
    current = current_session(request)
    services.user_soft_delete(session=current, password=payload.password, otp=payload.otp)
    return Status(202, {"detail": DELETED_DETAIL})


@me_router.get(
    "/sessions",
    operation_id="me_sessions_list",
    summary="Your sessions, newest first (token values are never shown)",
    description="The user's sessions, newest first, paginated; `include_ended` adds revoked and expired ones. Never shows token values. No side effects.",
    response={200: schemas.SessionPageOut, **errors(401, 422)},
)
def me_sessions_list(
    request: HttpRequest, paging: Query[PageParams], query: Query[schemas.SessionListQuery]
) -> dict[str, object]:
    current = current_session(request)
    result = page(selectors.session_list(user=current.user, include_ended=query.include_ended), paging)
    for session in result["items"]:
        session.current = session.pk == current.pk
    return result


@me_router.delete(
    "/sessions/{session_id}",
    operation_id="me_sessions_revoke",
    summary="End one of your sessions",
    description="Revokes one of the user's own sessions. Another user's session id answers 404, as an unknown one does. Side effect: the audit event `session.revoked`.",
    response={204: None, **errors(401, account_errors.SessionNotFound, 422)},
)
def me_sessions_revoke(request: HttpRequest, session_id: uuid.UUID) -> Status[None]:
    user = _me(request)
    services.session_revoke_for_user(user=user, session_id=session_id, actor=user)
    return Status(204, None)


@auth_router.post(
    "/password/reset",
    operation_id="auth_password_reset",
    summary="Mail a password-reset link (same answer whether or not the address is known)",
    description="Mails a password-reset link (valid one hour, single use) when a live account uses the address; the answer is the same 202 whether or not one does. Side effects (when it applies): the mail and the audit event `user.password_reset_requested`. `password_reset_address` also limits it per address.",
    throttle=ip_throttle("password_reset_ip"),
    openapi_extra=answer_example(202, {"detail": RESET_DETAIL}),
    response={202: schemas.AcceptedOut, **errors(422, 429)},
)
def password_reset(request: HttpRequest, payload: schemas.PasswordResetIn) -> Status[dict[str, str]]:
    services.password_reset_request(email=payload.email)
    return Status(202, {"detail": RESET_DETAIL})


@auth_router.post(
    "/password/reset/confirm",
    operation_id="auth_password_reset_confirm",
    summary="Set a new password with the uid and token of a reset link; ends every session",
    description="Sets a new password with the `uid` and `token` of a reset link; the link is spent, every session ends. Side effects: the audit event `user.password_reset` and a password-changed mail.",
    openapi_extra=answer_example(200, {"detail": RESET_DONE_DETAIL}),
    response={200: schemas.AcceptedOut, **errors(account_errors.InvalidToken, 422)},
)
def password_reset_confirm(request: HttpRequest, payload: schemas.PasswordResetConfirmIn) -> dict[str, str]:
    services.password_reset_confirm(uid=payload.uid, token=payload.token, new_password=payload.new_password)
    return {"detail": RESET_DONE_DETAIL}


@auth_router.post(
    "/email/change/confirm",
    operation_id="auth_email_change_confirm",
    summary="Apply an e-mail change with the key from the link mailed to the new address",
    description="Applies an e-mail change with the key mailed to the new address (started with POST /me/email). Side effects: the audit event `user.email_changed` and a notice to the old address. 409 `email_taken` when the address was taken meanwhile.",
    response={200: schemas.UserOut, **errors(account_errors.InvalidKey, account_errors.EmailTaken, 422)},
)
def email_change_confirm(request: HttpRequest, payload: schemas.EmailChangeConfirmIn) -> User:
    return services.email_change_confirm(key=payload.key)


@me_router.post(
    "/password",
    operation_id="me_password_change",
    summary="Change your password; ends every other session and mails an alert",
    description="Changes the password after checking the current one (and a second factor when MFA is on); every other session ends. Side effects: the audit event `user.password_changed` and a password-changed mail. Wrong passwords count towards the lockout (429 `locked`).",
    response={
        200: schemas.PasswordChangedOut,
        **errors(
            401,
            *REAUTH_ERRORS,
            422,
        ),
    },
)
def me_password_change(request: HttpRequest, payload: schemas.PasswordChangeIn) -> dict[str, object]:
    ended = services.password_change(
        session=current_session(request),
        current_password=payload.current_password,
        new_password=payload.new_password,
        otp=payload.otp,
    )
    return {"detail": "Your password is changed. Your other sessions have ended.", "sessions_ended": ended}


@me_router.post(
    "/email",
    operation_id="me_email_change",
    summary="Start an e-mail change: a confirmation link goes to the new address",
    description=(
        "Starts an e-mail change: a confirmation link goes to the new address, a notice to the current one. Side effect: the audit event `user.email_change_requested`. "
        "Needs `password`, unless this session was opened by a login within the re-auth window "
        "(403 `reauth_required`). The address changes only when the link is used. The answer is 202 "
        "whether or not the address is free (a taken address gets a notice to its owner, not a link). "
        "429 `rate_limited`: too many requests for this account or this address."
    ),
    openapi_extra=answer_example(202, {"detail": EMAIL_CHANGE_DETAIL}),
    response={
        202: schemas.AcceptedOut,
        **errors(
            401,
            *REAUTH_ERRORS,
            422,
            429,
        ),
    },
)
def me_email_change(request: HttpRequest, payload: schemas.EmailChangeIn) -> Status[dict[str, str]]:
    services.email_change_request(
        session=current_session(request),
        new_email=payload.new_email,
        password=payload.password,
        otp=payload.otp,
    )
    return Status(202, {"detail": EMAIL_CHANGE_DETAIL})


@me_router.put(
    "/avatar",
    operation_id="me_avatar_upload",
    summary="Upload an avatar (multipart field `file`: PNG, JPEG or WebP); stored re-encoded with a thumbnail",
    description="Replaces the avatar with the uploaded image, re-encoded, plus a thumbnail; metadata is dropped. Nothing is stored when the file is refused (413 `file_too_large`, 415 `unsupported_image`, 422 `invalid_image`). Side effects: the old files are deleted, the audit event `user.avatar_updated`.",
    response={
        200: schemas.UserOut,
        **errors(
            401,
            account_errors.FileTooLarge,
            account_errors.UnsupportedImage,
            account_errors.InvalidImage,
            422,
        ),
    },
)
def me_avatar_upload(request: HttpRequest, file: File[UploadedFile]) -> User:
    user = _me(request)
    services.avatar_set(user=user, upload=file, actor=user)
    return user


@me_router.delete(
    "/avatar",
    operation_id="me_avatar_delete",
    summary="Remove your avatar",
    description="Removes the avatar and its thumbnail; answers 204 when there is none. Side effect: the audit event `user.avatar_removed` (when there was one).",
    response={204: None, **errors(401)},
)
def me_avatar_delete(request: HttpRequest) -> Status[None]:
    user = _me(request)
    services.avatar_delete(user=user, actor=user)
    return Status(204, None)


@me_router.get(
    "/security-events",
    operation_id="me_security_events_list",
    summary="Your own audit trail (logins, sessions, account changes), newest first",
    description="The user's own audit trail (logins, sessions, account and security changes), newest first, paginated. No side effects.",
    response={200: schemas.SecurityEventPageOut, **errors(401, 422)},
)
def me_security_events_list(request: HttpRequest, paging: Query[PageParams]) -> dict[str, object]:
    return page(audit_selectors.events_for_subject(subject_id=_me(request).pk), paging)
