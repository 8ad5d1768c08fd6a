"""Social login routers, mounted in config/api.py at /auth/social and /me/social-accounts."""

from __future__ import annotations

from typing import Annotated

from allauth.socialaccount.models import SocialAccount
from django.http import HttpRequest
from ninja import Path, Query, Router
from ninja.responses import Status

from accounts import errors as account_errors
from accounts.api import REAUTH_ERRORS, current_session, pair_out
from accounts.auth import session_auth
from accounts.mfa.schemas import MfaRequiredOut
from accounts.ratelimit import ip_throttle
from accounts.services import MfaRequired
from accounts.social import schemas, selectors, services
from accounts.social.providers import Credentials
from core.pagination import PageParams, page
from core.schemas import errors

auth_social_router = Router(tags=["auth"])
me_social_router = Router(tags=["me"], auth=session_auth)


def _credentials(payload: schemas.SocialCredentialsIn) -> Credentials:
    return Credentials(**payload.model_dump(exclude={"password", "otp"}))


@auth_social_router.post(
    "/{provider}",
    operation_id="auth_social_login",
    summary="Log in (or sign up) with a Google id_token, or a GitHub or Facebook token; opens a session",
    description=(
        "Logs in with a social provider's credentials and opens a session; a first login creates the account from the provider's verified e-mail. Side effects: a session, the audit events `auth.login` (and `user.registered` for a new account); for an account with MFA, a challenge instead (202). "
        "google: `id_token`; github: `access_token`, or `code` + `redirect_uri`; facebook: `access_token`. "
        "An e-mail that belongs to an existing account answers 409 `email_conflict`: log in to that account "
        "and link the provider with POST /me/social-accounts/{provider}/link. 202: the account has MFA; finish "
        "with POST /auth/mfa/verify and the `mfa_token` (docs/mfa.md)."
    ),
    # Shares the per-IP login budget with password login: each attempt costs calls to the provider.
    throttle=ip_throttle("login_ip"),
    response={
        200: schemas.SocialLoginOut,
        202: MfaRequiredOut,
        **errors(
            account_errors.InvalidProviderToken,
            account_errors.ProviderEmailMissing,
            account_errors.AccountInactive,
            account_errors.UnknownProvider,
            account_errors.EmailConflict,
            422,
            429,
            account_errors.ProviderUnavailable,
        ),
    },
)
def social_login(
    request: HttpRequest, provider: str, payload: schemas.SocialCredentialsIn
) -> dict[str, object] | Status[MfaRequired]:
    result = services.social_login(provider=provider, credentials=_credentials(payload))
    if isinstance(result.outcome, MfaRequired):
        return Status(202, result.outcome)
    return {**pair_out(result.outcome.session.id, result.outcome.pair), "user_created": result.user_created}


@me_social_router.get(
    "",
    operation_id="me_social_accounts_list",
    summary="Your linked social accounts, oldest first",
    description="The social provider accounts linked to the user, paginated. No side effects.",
    response={200: schemas.SocialAccountPageOut, **errors(401, 422)},
)
def me_social_accounts_list(request: HttpRequest, paging: Query[PageParams]) -> dict[str, object]:
    return page(selectors.social_account_list(user=current_session(request).user), paging)


# No other route has this shape: linking lives at "/{provider}/link", so any id, numeric or not, reaches this
# operation and is answered 404 or 422, never 405 from a neighbouring route.
@me_social_router.delete(
    "/{account_id}",
    operation_id="me_social_accounts_unlink",
    summary="Unlink one of your social accounts (not the last way to log in)",
    description="Unlinks one of the user's social accounts. Refused with 409 `last_login_method` when it is the only way left to log in (no usable password). Side effect: the audit event `social.unlinked`.",
    response={
        204: None,
        **errors(401, account_errors.SocialAccountNotFound, account_errors.LastLoginMethod, 422),
    },
)
def me_social_accounts_unlink(
    request: HttpRequest, account_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Status[None]:
    services.social_account_unlink(user=current_session(request).user, account_id=account_id)
    return Status(204, None)


@me_social_router.post(
    "/{provider}/link",
    operation_id="me_social_accounts_link",
    summary="Link a provider account to you (needs your password or a recent login)",
    description=(
        "Links a social provider account to the signed-in user. Side effects: the audit event `social.linked` and a `social_linked` mail to the user. "
        "Same credentials as POST /auth/social/{provider}, plus `password` unless the session was opened by "
        "a login within the re-auth window (else 403 `reauth_required`). A wrong password is 400 "
        "`wrong_password` and counts toward the login lockout (429 `locked`). 201 when linked now, 200 when "
        "it already was."
    ),
    response={
        200: schemas.SocialAccountOut,
        201: schemas.SocialAccountOut,
        **errors(
            401,
            account_errors.InvalidProviderToken,
            account_errors.ProviderEmailMissing,
            *REAUTH_ERRORS,
            account_errors.UnknownProvider,
            account_errors.SocialAccountTaken,
            422,
            429,
            account_errors.ProviderUnavailable,
        ),
    },
)
def me_social_accounts_link(
    request: HttpRequest, provider: str, payload: schemas.SocialLinkIn
) -> Status[SocialAccount]:
    current = current_session(request)
    account, created = services.social_account_link(
        user=current.user,
        session=current,
        provider=provider,
        credentials=_credentials(payload),
        password=payload.password,
        otp=payload.otp,
    )
    return Status(201 if created else 200, account)
