"""The admin operations through HTTP: their effect in the database, the mail outbox and the audit log (the
key as actor), the services' rules (same as the console's), and bad input (4xx in the error schema, nothing
changed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail

from accounts.models import User
from audit import services as audit_services
from audit.models import AuditEvent
from gdpr import services as gdpr_services
from gdpr.models import DataRequest, DataRequestEvent
from tests.conftest import assert_error


@pytest.fixture
def ada(make_user: Callable[..., User], login: Callable[..., Any]) -> User:
    user = make_user(email="ada@example.com", username="ada", first_name="Ada", last_name="Lovelace")
    login("ada@example.com")
    login("ada@example.com")
    return user


def _key_event(action: str) -> AuditEvent:
    return AuditEvent.objects.get(action=action)


def _assert_by_key(event: AuditEvent, created: Any) -> None:
    assert event.actor_type == "api_key"
    assert event.actor_id == created.api_key.pk
    assert event.details["api_key_prefix"] == created.api_key.prefix


# --- users -----------------------------------------------------------------------------------------------


def test_users_search_and_paging(admin: Any, key: str, ada: User, make_user: Callable[..., User]) -> None:
    for n in range(3):
        make_user(email=f"bulk{n}@example.com")
    found = admin("get", "/users?q=lovelace", key=key).json()
    assert found["count"] == 1 and found["items"][0]["id"] == str(ada.pk)
    item = found["items"][0]
    assert item["email"] == "ada@example.com" and item["username"] == "ada" and item["is_active"] is True
    assert "password" not in item
    by_id = admin("get", f"/users?q={ada.pk}", key=key).json()
    assert [u["id"] for u in by_id["items"]] == [str(ada.pk)]
    first = admin("get", "/users?limit=2", key=key).json()
    second = admin("get", "/users?limit=2&offset=2", key=key).json()
    # Five users: ada, three bulk users and the key's owner; newest first, no overlap between pages.
    assert first["count"] == second["count"] == 5 and len(first["items"]) == 2
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}
    staff = admin("get", "/users?status=staff", key=key).json()
    assert [u["email"] for u in staff["items"]] == ["root@example.com"]


@pytest.mark.parametrize(
    "query",
    ["limit=101", "limit=0", "offset=-1", "status=admins", "q=" + "x" * 255, "limit=x", "limit=5&limit=6"],
)
def test_users_search_bad_query_is_422(admin: Any, key: str, query: str) -> None:
    assert_error(admin("get", f"/users?{query}", key=key), 422, "validation_error")


def test_user_get(admin: Any, key: str, ada: User) -> None:
    got = admin("get", f"/users/{ada.pk}", key=key)
    assert got.status_code == 200 and got.json()["email"] == "ada@example.com"
    assert_error(admin("get", f"/users/{uuid.uuid4()}", key=key), 404, "not_found")
    assert_error(admin("get", "/users/not-a-uuid", key=key), 422, "validation_error")
    # Reading is not audited.
    assert not AuditEvent.objects.filter(actor_type="api_key").exists()


def test_force_logout_ends_every_session_as_the_key(admin: Any, make_key: Any, ada: User) -> None:
    created = make_key()
    response = admin("post", f"/users/{ada.pk}/logout", key=created.secret)
    assert response.status_code == 200 and response.json() == {"sessions_ended": 2}
    assert set(ada.sessions.values_list("revoke_reason", flat=True)) == {"force_logout"}
    event = _key_event("session.revoked_all")
    _assert_by_key(event, created)
    assert event.subject_id == ada.pk and event.details["reason"] == "force_logout"
    assert admin("post", f"/users/{ada.pk}/logout", key=created.secret).json() == {"sessions_ended": 0}
    assert_error(admin("post", f"/users/{uuid.uuid4()}/logout", key=created.secret), 404, "not_found")


def test_deactivate_and_reactivate(admin: Any, make_key: Any, ada: User, api: Any) -> None:
    created = make_key()
    # Unknown fields are ignored, never applied.
    body = {"reason": "  fraud ticket 7  ", "is_active": True, "is_staff": True, "email": "x@example.com"}
    response = admin("post", f"/users/{ada.pk}/deactivate", body, key=created.secret)
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False and response.json()["is_staff"] is False
    ada.refresh_from_db()
    assert not ada.is_active and not ada.is_staff and ada.email == "ada@example.com"
    assert not ada.sessions.filter(revoked_at__isnull=True).exists()
    event = _key_event("user.deactivated")
    _assert_by_key(event, created)
    assert event.details["reason"] == "fraud ticket 7" and event.details["sessions"] == 2
    # Idempotent: a second deactivation changes and audits nothing.
    assert admin("post", f"/users/{ada.pk}/deactivate", {}, key=created.secret).status_code == 200
    assert AuditEvent.objects.filter(action="user.deactivated").count() == 1

    reactivated = admin("post", f"/users/{ada.pk}/reactivate", key=created.secret)
    assert reactivated.status_code == 200 and reactivated.json()["is_active"] is True
    _assert_by_key(_key_event("user.reactivated"), created)
    login = api.post_json("/auth/token", {"login": "ada@example.com", "password": "correct-horse-battery-9"})
    assert login.status_code == 200


def test_a_key_cannot_deactivate_its_own_owner(admin: Any, key: str, owner: User) -> None:
    assert_error(admin("post", f"/users/{owner.pk}/deactivate", {}, key=key), 409, "self_deactivation")
    owner.refresh_from_db()
    assert owner.is_active


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{", 400, "bad_request"),
        ("[]", 400, "bad_request"),
        ({"reason": 5}, 422, "validation_error"),
        ({"reason": "x" * 501}, 422, "validation_error"),
        ({"reason": "a\u0000b"}, 400, "bad_request"),
    ],
)
def test_deactivate_bad_input_changes_nothing(
    admin: Any, key: str, ada: User, body: Any, status: int, code: str
) -> None:
    assert_error(admin("post", f"/users/{ada.pk}/deactivate", body, key=key), status, code)
    ada.refresh_from_db()
    assert ada.is_active and not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_deactivate_needs_a_body_and_a_uuid(admin: Any, key: str, ada: User) -> None:
    assert_error(admin("post", f"/users/{ada.pk}/deactivate", key=key), 400, "bad_request")
    assert_error(admin("post", "/users/123/deactivate", {}, key=key), 422, "validation_error")
    assert_error(admin("post", f"/users/{uuid.uuid4()}/deactivate", {}, key=key), 404, "not_found")
    assert_error(admin("delete", f"/users/{ada.pk}/deactivate", key=key), 405, "method_not_allowed")


# --- exports ---------------------------------------------------------------------------------------------


def test_export_on_the_users_behalf_is_mailed_to_the_user(admin: Any, make_key: Any, ada: User) -> None:
    created = make_key()
    response = admin("post", f"/users/{ada.pk}/exports", key=created.secret)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["user_id"] == str(ada.pk) and body["type"] == "export" and body["source"] == "admin_api"
    assert "download" not in body
    data_request = DataRequest.objects.get(pk=body["id"])
    # huey runs inline in tests: the export is built on commit and its link mailed to the user only.
    assert data_request.status == "ready"
    ready = [m for m in mail.outbox if m.subject == "Your data export is ready"]
    assert [m.to for m in ready] == [["ada@example.com"]]
    event = _key_event("gdpr.export_requested")
    _assert_by_key(event, created)
    assert event.subject_id == ada.pk and event.details["source"] == "admin_api"
    assert DataRequestEvent.objects.filter(request=data_request).first().actor_id == created.api_key.owner_id


def test_export_refusals(admin: Any, key: str, ada: User, make_user: Callable[..., User]) -> None:
    gdpr_services.data_request_create(user=ada, actor=ada, type="export")
    DataRequest.objects.update(status="pending")  # still open
    assert_error(admin("post", f"/users/{ada.pk}/exports", key=key), 409, "request_open")
    gone = make_user(email="gone@example.com", deleted_at="2026-01-01T00:00:00Z")
    assert_error(admin("post", f"/users/{gone.pk}/exports", key=key), 409, "user_deleted")
    assert_error(admin("post", f"/users/{uuid.uuid4()}/exports", key=key), 404, "not_found")
    assert DataRequest.objects.count() == 1


# --- erasures --------------------------------------------------------------------------------------------


@pytest.fixture
def erasure(ada: User) -> DataRequest:
    return gdpr_services.data_request_create(user=ada, actor=ada, type="erasure")


def test_erasures_list_by_status(
    admin: Any, key: str, erasure: DataRequest, make_user: Callable[..., User]
) -> None:
    other = make_user(email="bob@example.com")
    second = gdpr_services.data_request_create(user=other, actor=other, type="erasure")
    waiting = admin("get", "/erasures", key=key).json()
    assert [r["id"] for r in waiting["items"]] == [str(erasure.pk), str(second.pk)]  # oldest first
    assert waiting["items"][0]["user_id"] == str(erasure.user_id)
    assert admin("get", "/erasures?status=approved", key=key).json()["count"] == 0
    assert_error(admin("get", "/erasures?status=ready", key=key), 422, "validation_error")
    assert_error(admin("get", "/erasures?limit=1000", key=key), 422, "validation_error")


def test_approve_as_the_key(admin: Any, make_key: Any, erasure: DataRequest, owner: User) -> None:
    created = make_key()
    response = admin("post", f"/erasures/{erasure.pk}/approve", key=created.secret)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved" and response.json()["scheduled_for"]
    erasure.refresh_from_db()
    assert erasure.status == "approved" and erasure.decided_by_id == owner.pk
    _assert_by_key(_key_event("gdpr.erasure_approved"), created)
    assert [m.to for m in mail.outbox if "approved" in m.subject] == [["ada@example.com"]]
    assert_error(
        admin("post", f"/erasures/{erasure.pk}/approve", key=created.secret), 409, "request_not_pending"
    )


def test_reject_with_a_reason(admin: Any, make_key: Any, erasure: DataRequest) -> None:
    created = make_key()
    blank = ({"reason": "   "}, {"reason": "\x85"}, {"reason": "\u3000\t"})
    for body, status in (({}, 422), *((b, 422) for b in blank), ({"reason": "x" * 501}, 422), ("{", 400)):
        assert_error(admin("post", f"/erasures/{erasure.pk}/reject", body, key=created.secret), status)
    erasure.refresh_from_db()
    assert erasure.status == "awaiting_approval"
    response = admin("post", f"/erasures/{erasure.pk}/reject", {"reason": " legal hold "}, key=created.secret)
    assert response.status_code == 200 and response.json()["reason"] == "legal hold"
    event = _key_event("gdpr.erasure_rejected")
    _assert_by_key(event, created)
    assert event.details["reason"] == "legal hold"


def test_unknown_or_non_erasure_request_ids_are_404(admin: Any, key: str, ada: User) -> None:
    export = gdpr_services.data_request_create(user=ada, actor=ada, type="export")
    for request_id in (uuid.uuid4(), export.pk):
        assert_error(admin("post", f"/erasures/{request_id}/approve", key=key), 404, "not_found")
        assert_error(
            admin("post", f"/erasures/{request_id}/reject", {"reason": "r"}, key=key), 404, "not_found"
        )
    assert_error(admin("post", "/erasures/nope/approve", key=key), 422, "validation_error")


def test_a_key_never_decides_about_its_owner_nor_on_a_request_its_owner_opened(
    admin: Any, key: str, owner: User, ada: User
) -> None:
    about_owner = gdpr_services.data_request_create(user=owner, actor=owner, type="erasure")
    assert_error(admin("post", f"/erasures/{about_owner.pk}/approve", key=key), 403, "self_approval")
    # An erasure the owner opened for someone else (e.g. on their written request).
    opened = gdpr_services.erasure_open_for_deleted(user=ada, actor=owner)
    assert_error(admin("post", f"/erasures/{opened.pk}/approve", key=key), 403, "self_approval")
    assert_error(
        admin("post", f"/erasures/{opened.pk}/reject", {"reason": "r"}, key=key), 403, "self_approval"
    )
    assert set(DataRequest.objects.values_list("status", flat=True)) == {"awaiting_approval"}


def test_events_of_the_key_keep_the_chain_verifiable(admin: Any, key: str, ada: User) -> None:
    assert admin("post", f"/users/{ada.pk}/logout", key=key).status_code == 200
    audit_services.events_seal(lag_seconds=0)
    report = audit_services.chain_verify()
    assert report.ok and report.sealed == AuditEvent.objects.count()
