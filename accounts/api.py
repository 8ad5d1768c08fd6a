"""Ninja routers of the accounts app: parse input, call one service or selector, serialize."""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from accounts import schemas, selectors, services, tokens
from accounts.auth import session_auth
from accounts.models import RevokeReason, Session, User
from audit import selectors as audit_selectors
from config.pagination import PageParams, page
from config.schemas import errors

auth_router = Router(tags=["auth"])
me_router = Router(tags=["me"], auth=session_auth)


def _pair_out(session: Session, pair: tokens.TokenPair) -> dict[str, object]:
    return {
        "access": pair.access,
        "refresh": pair.refresh,
        "token_type": "Bearer",
        "expires_in": pair.access_expires_in,
        "refresh_expires_at": pair.refresh_expires_at,
        "session_id": session.pk,
    }


def _current(request: HttpRequest) -> Session:
    session: Session = request.auth  # type: ignore[attr-defined]
    return session


def _me(request: HttpRequest) -> User:
    return _current(request).user


@auth_router.post(
    "/register",
    operation_id="auth_register",
    summary="Create an account and send the verification mail",
    response={201: schemas.UserOut, **errors(400, 409, 422, 429)},
)
def register(request: HttpRequest, payload: schemas.RegisterIn) -> Status[User]:
    user = services.user_register(**payload.model_dump())
    return Status(201, user)


@auth_router.post(
    "/email/verify",
    operation_id="auth_email_verify",
    summary="Verify an e-mail address with the key from the mail",
    response={200: schemas.UserOut, **errors(400, 422, 429)},
)
def email_verify(request: HttpRequest, payload: schemas.VerifyEmailIn) -> User:
    return services.email_verify(key=payload.key)


@auth_router.post(
    "/email/resend",
    operation_id="auth_email_resend",
    summary="Send the verification mail again (same answer whether or not the address is known)",
    response={202: schemas.AcceptedOut, **errors(400, 422, 429)},
)
def email_resend(request: HttpRequest, payload: schemas.ResendIn) -> Status[dict[str, str]]:
    services.email_verification_resend(email=payload.email)
    return Status(202, {"detail": "If an unverified account uses this address, a new link is on its way."})


@auth_router.post(
    "/token",
    operation_id="auth_login",
    summary="Log in with e-mail or username and password; opens a session",
    response={200: schemas.TokenPairOut, **errors(400, 401, 403, 422, 429)},
)
def login(request: HttpRequest, payload: schemas.LoginIn) -> dict[str, object]:
    session, pair = services.session_login(login=payload.login, password=payload.password)
    return _pair_out(session, pair)


@auth_router.post(
    "/token/refresh",
    operation_id="auth_token_refresh",
    summary="Rotate a refresh token: a new pair; the presented token is spent",
    response={200: schemas.TokenPairOut, **errors(400, 401, 422, 429)},
)
def token_refresh(request: HttpRequest, payload: schemas.RefreshIn) -> dict[str, object]:
    session, pair = services.token_refresh(refresh=payload.refresh)
    return _pair_out(session, pair)


@auth_router.post(
    "/token/verify",
    operation_id="auth_token_verify",
    summary="Check that a token is valid and its session live",
    response={200: schemas.TokenVerifyOut, **errors(400, 401, 422, 429)},
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
    auth=session_auth,
    response={204: None, **errors(401)},
)
def logout(request: HttpRequest) -> Status[None]:
    current = _current(request)
    services.session_revoke(session=current, actor=current.user, reason=RevokeReason.LOGOUT)
    return Status(204, None)


@auth_router.post(
    "/logout-all",
    operation_id="auth_logout_all",
    summary="End every session of the user (optionally keeping this one)",
    auth=session_auth,
    response={204: None, **errors(401, 422)},
)
def logout_all(request: HttpRequest, query: Query[schemas.LogoutAllQuery]) -> Status[None]:
    current = _current(request)
    services.sessions_revoke_all(
        user=current.user, actor=current.user, keep=current if query.keep_current else None
    )
    return Status(204, None)


@me_router.get(
    "",
    operation_id="me_get",
    summary="The current user with profile",
    response={200: schemas.UserOut, **errors(401)},
)
def me_get(request: HttpRequest) -> User:
    return _me(request)


@me_router.patch(
    "",
    operation_id="me_update",
    summary="Update names, username and profile fields",
    response={200: schemas.UserOut, **errors(400, 401, 409, 422)},
)
def me_update(request: HttpRequest, payload: schemas.MeUpdateIn) -> User:
    user = _me(request)
    return services.user_update(user=user, actor=user, changes=payload.model_dump(exclude_unset=True))


@me_router.delete(
    "",
    operation_id="me_delete",
    summary="Delete the account (soft delete now; erasure follows after review)",
    response={202: schemas.AcceptedOut, **errors(400, 401, 422)},
)
def me_delete(request: HttpRequest, payload: schemas.DeleteMeIn) -> Status[dict[str, str]]:
    user = _me(request)
    services.user_soft_delete(user=user, password=payload.password)
    return Status(202, {"detail": "Your account is deleted; your data will be erased after review."})


@me_router.get(
    "/sessions",
    operation_id="me_sessions_list",
    summary="Your sessions, newest first (token values are never shown)",
    response={200: schemas.SessionPageOut, **errors(401, 422)},
)
def me_sessions_list(
    request: HttpRequest, paging: Query[PageParams], query: Query[schemas.SessionListQuery]
) -> dict[str, object]:
    current = _current(request)
    result = page(selectors.session_list(user=current.user, include_ended=query.include_ended), paging)
    for session in result["items"]:
        session.current = session.pk == current.pk
    return result


@me_router.delete(
    "/sessions/{session_id}",
    operation_id="me_sessions_revoke",
    summary="End one of your sessions",
    response={204: None, **errors(401, 404, 422)},
)
def me_sessions_revoke(request: HttpRequest, session_id: uuid.UUID) -> Status[None]:
    user = _me(request)
    services.session_revoke_for_user(user=user, session_id=session_id, actor=user)
    return Status(204, None)


@me_router.get(
    "/security-events",
    operation_id="me_security_events_list",
    summary="Your own audit trail (logins, sessions, account changes), newest first",
    response={200: schemas.SecurityEventPageOut, **errors(401, 422)},
)
def me_security_events_list(request: HttpRequest, paging: Query[PageParams]) -> dict[str, object]:
    return page(audit_selectors.events_for_subject(subject_id=_me(request).pk), paging)
