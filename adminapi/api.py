"""The admin API (/api/v1/admin): support work for automation, with scoped API keys. Every operation needs
one scope (adminapi.scopes) and acts as the key's owner through the same services as the console; the audit
events it causes name the key (audit.services.record)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from ninja.responses import Status

from accounts import errors as account_errors
from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import RevokeReason, User
from adminapi import errors as admin_errors
from adminapi import schemas, scopes
from adminapi.auth import key_auth
from adminapi.models import ApiKey
from core.pagination import page
from core.schemas import errors
from gdpr import errors as gdpr_errors
from gdpr import selectors as gdpr_selectors
from gdpr import services as gdpr_services
from gdpr.models import DataRequest

router = Router(tags=["admin"])


def _owner(request: HttpRequest) -> User:
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return api_key.owner


def _scoped(scope: str, description: str) -> dict[str, Any]:
    """The authentication and documentation of an operation that needs `scope`: config.openapi turns
    `x-scopes` into the roles of the operation's security requirement."""
    return {
        "auth": key_auth(scope),
        "description": f"{description} Needs an admin API key with the scope `{scope}`.",
        "openapi_extra": {"x-scopes": [scope]},
    }


def _user(user_id: uuid.UUID) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise admin_errors.UserNotFound()
    return user


def _request_out(data_request: DataRequest) -> dict[str, Any]:
    return {
        "id": data_request.pk,
        "user_id": data_request.user_id,
        "type": data_request.type,
        "status": data_request.status,
        "source": data_request.source,
        "created_at": data_request.created_at,
        "updated_at": data_request.updated_at,
        "completed_at": data_request.completed_at,
        "decided_at": data_request.decided_at,
        "scheduled_for": data_request.scheduled_for,
        "reason": data_request.reason,
    }


@router.get(
    "/users",
    operation_id="admin_users_list",
    summary="Search users by id, e-mail, username or name, newest first",
    response={200: schemas.AdminUserPageOut, **errors(401, 422)},
    **_scoped(
        scopes.USERS_READ,
        "Searches users by id, e-mail, username or name, newest first; `status` filters live, deleted, unverified or staff accounts. No side effects.",
    ),
)
def users_list(request: HttpRequest, params: Query[schemas.UserSearchParams]) -> dict[str, Any]:
    found = account_selectors.user_search(query=params.q, status=params.status or "")
    return page(found, params)


@router.get(
    "/users/{user_id}",
    operation_id="admin_user_get",
    summary="One user's account (deleted ones too)",
    response={200: schemas.AdminUserOut, **errors(401, admin_errors.UserNotFound, 422)},
    **_scoped(scopes.USERS_READ, "One user by id, including deleted ones. No side effects."),
)
def user_get(request: HttpRequest, user_id: uuid.UUID) -> User:
    return _user(user_id)


@router.post(
    "/users/{user_id}/logout",
    operation_id="admin_user_logout",
    summary="Force logout: end every session of the user",
    response={
        200: schemas.LogoutOut,
        **errors(401, admin_errors.KeyOwnerRequired, admin_errors.UserNotFound, 422),
    },
    **_scoped(
        scopes.USERS_LOGOUT,
        "Revokes every session of the user (force logout). Side effect: the audit event, with the API key named as actor.",
    ),
)
def user_logout(request: HttpRequest, user_id: uuid.UUID) -> dict[str, int]:
    ended = account_services.sessions_revoke_all(
        user=_user(user_id), actor=_owner(request), reason=RevokeReason.FORCE_LOGOUT
    )
    return {"sessions_ended": ended}


@router.post(
    "/users/{user_id}/deactivate",
    operation_id="admin_user_deactivate",
    summary="Deactivate a user: no login, every session ended (idempotent)",
    response={
        200: schemas.AdminUserOut,
        **errors(
            401,
            admin_errors.KeyOwnerRequired,
            account_errors.InsufficientRank,
            admin_errors.UserNotFound,
            account_errors.SelfDeactivation,
            422,
        ),
    },
    **_scoped(
        scopes.USERS_DEACTIVATE,
        "Deactivates the user: login refused, every session ends. The key's owner may not deactivate their own account (409 `self_deactivation`) nor an account of higher staff rank. Side effect: the audit event `user.deactivated`.",
    ),
)
def user_deactivate(request: HttpRequest, user_id: uuid.UUID, payload: schemas.DeactivateIn) -> User:
    return account_services.user_deactivate(user=_user(user_id), actor=_owner(request), reason=payload.reason)


@router.post(
    "/users/{user_id}/reactivate",
    operation_id="admin_user_reactivate",
    summary="Reactivate a deactivated user (idempotent)",
    response={
        200: schemas.AdminUserOut,
        **errors(
            401,
            admin_errors.KeyOwnerRequired,
            account_errors.InsufficientRank,
            admin_errors.UserNotFound,
            422,
        ),
    },
    **_scoped(
        scopes.USERS_DEACTIVATE,
        "Reactivates a deactivated user. Side effect: the audit event `user.reactivated`.",
    ),
)
def user_reactivate(request: HttpRequest, user_id: uuid.UUID) -> User:
    return account_services.user_reactivate(user=_user(user_id), actor=_owner(request))


@router.post(
    "/users/{user_id}/exports",
    operation_id="admin_user_export_start",
    summary="Start a data export on the user's behalf; the download link is mailed to the user",
    response={
        202: schemas.AdminDataRequestOut,
        **errors(
            401,
            admin_errors.KeyOwnerRequired,
            admin_errors.UserNotFound,
            gdpr_errors.RequestOpen("This user already has an open export request."),
            gdpr_errors.UserDeleted,
            422,
        ),
    },
    **_scoped(
        scopes.GDPR_EXPORT,
        "Opens an export request for the user, as staff would; the user is mailed the link when it is ready. Side effects: the request, the audit event, the background job.",
    ),
)
def user_export_start(request: HttpRequest, user_id: uuid.UUID) -> Status[dict[str, Any]]:
    data_request = gdpr_services.export_request_for_user(
        user=_user(user_id), actor=_owner(request), source="admin_api"
    )
    return Status(202, _request_out(data_request))


@router.get(
    "/erasures",
    operation_id="admin_erasures_list",
    summary="Erasure requests in one status (default: awaiting approval), oldest first",
    response={200: schemas.AdminDataRequestPageOut, **errors(401, 422)},
    **_scoped(
        scopes.GDPR_ERASURE_READ,
        "Erasure requests in one status (`status`, default: awaiting approval), oldest first. No side effects.",
    ),
)
def erasures_list(request: HttpRequest, params: Query[schemas.ErasureListParams]) -> dict[str, Any]:
    result = page(gdpr_selectors.erasure_requests(status=params.status), params)
    result["items"] = [_request_out(r) for r in result["items"]]
    return result


# What deciding on an erasure request (approve or reject) can answer besides 200.
_DECISION_ERRORS = errors(
    401,
    admin_errors.KeyOwnerRequired,
    gdpr_errors.SelfApproval,
    gdpr_errors.RequestNotFound,
    gdpr_errors.RequestNotPending,
    422,
)


@router.post(
    "/erasures/{request_id}/approve",
    operation_id="admin_erasure_approve",
    summary="Approve an erasure request: it runs after the grace period unless the user cancels",
    response={
        200: schemas.AdminDataRequestOut,
        **_DECISION_ERRORS,
    },
    **_scoped(
        scopes.GDPR_ERASURE_APPROVE,
        "Approves a pending erasure request; it runs after the grace period. The key's owner may not approve a request about themselves (403 `self_approval`). Side effects: the audit event `gdpr.erasure_approved` and a mail to the user.",
    ),
)
def erasure_approve(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    data_request = gdpr_selectors.erasure_request(data_request_id=request_id)
    return _request_out(gdpr_services.erasure_approve(data_request=data_request, actor=_owner(request)))


@router.post(
    "/erasures/{request_id}/reject",
    operation_id="admin_erasure_reject",
    summary="Reject an erasure request with a reason",
    response={
        200: schemas.AdminDataRequestOut,
        **_DECISION_ERRORS,
    },
    **_scoped(
        scopes.GDPR_ERASURE_APPROVE,
        "Rejects a pending erasure request with a reason. Side effect: the audit event `gdpr.erasure_rejected`.",
    ),
)
def erasure_reject(request: HttpRequest, request_id: uuid.UUID, payload: schemas.RejectIn) -> dict[str, Any]:
    data_request = gdpr_selectors.erasure_request(data_request_id=request_id)
    rejected = gdpr_services.erasure_reject(
        data_request=data_request, actor=_owner(request), reason=payload.reason
    )
    return _request_out(rejected)
