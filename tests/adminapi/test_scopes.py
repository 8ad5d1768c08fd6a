"""Each scope allows exactly its operations: every admin operation × every scope, with a key holding only
that scope (403 insufficient_scope and nothing changed, or the operation's success answer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from adminapi import scopes
from audit.models import AuditEvent
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.conftest import assert_error

# operationId → (method, path, body, success status, the one scope that allows it)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any] | None, int, str]] = {
    "admin_users_list": ("get", "/users?q=target", None, 200, scopes.USERS_READ),
    "admin_user_get": ("get", "/users/{user}", None, 200, scopes.USERS_READ),
    "admin_user_logout": ("post", "/users/{user}/logout", None, 200, scopes.USERS_LOGOUT),
    "admin_user_deactivate": (
        "post",
        "/users/{user}/deactivate",
        {"reason": "r"},
        200,
        scopes.USERS_DEACTIVATE,
    ),
    "admin_user_reactivate": ("post", "/users/{user}/reactivate", None, 200, scopes.USERS_DEACTIVATE),
    "admin_user_export_start": ("post", "/users/{user}/exports", None, 202, scopes.GDPR_EXPORT),
    "admin_erasures_list": ("get", "/erasures", None, 200, scopes.GDPR_ERASURE_READ),
    "admin_erasure_approve": ("post", "/erasures/{erasure}/approve", None, 200, scopes.GDPR_ERASURE_APPROVE),
    "admin_erasure_reject": (
        "post",
        "/erasures/{erasure}/reject",
        {"reason": "legal hold"},
        200,
        scopes.GDPR_ERASURE_APPROVE,
    ),
}


def _state(user: User, erasure: DataRequest) -> tuple[Any, ...]:
    user.refresh_from_db()
    erasure.refresh_from_db()
    return (
        user.is_active,
        user.sessions.filter(revoked_at__isnull=True).count(),
        erasure.status,
        DataRequest.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def target(make_user: Callable[..., User], login: Callable[..., Any]) -> User:
    user = make_user(email="target@example.com")
    login("target@example.com")
    return user


@pytest.fixture
def erasure(make_user: Callable[..., User]) -> DataRequest:
    leaving = make_user(email="leaving@example.com")
    return gdpr_services.data_request_create(user=leaving, actor=leaving, type="erasure")


def test_the_matrix_covers_every_admin_operation_and_the_document_names_each_scope(api: Any) -> None:
    document = api.get("/api/v1/openapi.json").json()
    found = {
        op["operationId"]: op["security"]
        for item in document["paths"].values()
        for op in item.values()
        if "admin" in op.get("tags", [])
    }
    assert set(found) == set(OPERATIONS)
    for operation_id, security in found.items():
        assert security == [{"ApiKeyBearer": [OPERATIONS[operation_id][4]]}], operation_id
    # Every scope of the registry allows at least one operation.
    assert {spec[4] for spec in OPERATIONS.values()} == set(scopes.SCOPES)


@pytest.mark.parametrize("scope", list(scopes.SCOPES))
@pytest.mark.parametrize("operation_id", list(OPERATIONS))
def test_a_scope_allows_exactly_its_operations(
    admin: Any, make_key: Any, target: User, erasure: DataRequest, operation_id: str, scope: str
) -> None:
    method, path, body, success, needed = OPERATIONS[operation_id]
    if operation_id == "admin_user_reactivate":
        target.is_active = False
        target.save(update_fields=["is_active"])
    key = make_key(scopes=[scope]).secret
    before = _state(target, erasure)
    response = admin(method, path.format(user=target.pk, erasure=erasure.pk), body, key=key)
    if scope == needed:
        assert response.status_code == success, response.content
        return
    error = assert_error(response, 403, "insufficient_scope")
    assert error["details"] == {"required_scope": needed}
    assert response["WWW-Authenticate"] == f'Bearer error="insufficient_scope", scope="{needed}"'
    assert _state(target, erasure) == before


def test_a_key_with_several_scopes_has_the_operations_of_each(
    admin: Any, make_key: Any, target: User
) -> None:
    key = make_key(scopes=[scopes.USERS_READ, scopes.USERS_LOGOUT]).secret
    assert admin("get", f"/users/{target.pk}", key=key).status_code == 200
    assert admin("post", f"/users/{target.pk}/logout", key=key).status_code == 200
    assert_error(admin("post", f"/users/{target.pk}/reactivate", key=key), 403, "insufficient_scope")
