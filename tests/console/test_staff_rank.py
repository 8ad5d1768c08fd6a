"""Staff rank in the console: every action needs its own permission, and nobody acts on an account that holds
permissions they lack (a superuser's only by superusers). Refusals are 403 in the page and audited as
`staff.action_refused`; nothing changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import Session, User
from audit.models import AuditEvent
from core.models import OutboxMessage
from gdpr.models import DataRequest
from tests.console.conftest import client_for, htmx, permissions, with_roles

REASON = {"reason": "The user asked by phone"}

# (console action, URL under /console/users/<id>/, form data, staff action in the audit event)
ACTIONS: list[tuple[str, str, dict[str, str], str]] = [
    ("logout_all", "logout-all/", {}, "sessions.revoke_all"),
    ("session_revoke", "sessions/{session}/revoke/", {}, "session.revoke"),
    ("deactivate", "deactivate/", {"reason": "fraud"}, "user.deactivate"),
    ("reactivate", "reactivate/", {}, "user.reactivate"),
    ("verification_resend", "verification/", {}, "verification.resend"),
    ("password_reset_send", "password-reset/", REASON, "password_reset.send"),
    ("lockout_clear", "lockout/clear/", REASON, "lockout.clear"),
    ("restore", "restore/", REASON, "user.restore"),
    ("social_unlink", "social-accounts/{account}/unlink/", REASON, "social.unlink"),
    ("consent_history", "consents/", REASON, "consent.history_view"),
]
# Reading the consent ledger changes nothing: rank does not matter for it (a permission and a reason do).
RANKED = [a for a in ACTIONS if a[0] != "consent_history"]


def equip(user: User) -> dict[str, Any]:
    """A live session and a linked social account (besides the password), so every action has its object."""
    session = Session.objects.create(
        user=user, expires_at=timezone.now() + timedelta(days=1), refresh_hash="h"
    )
    account = SocialAccount.objects.create(user=user, provider="google", uid=f"uid-{user.pk}")
    return {"session": session.pk, "account": account.pk}


def url(user: User, path: str, objects: dict[str, Any]) -> str:
    return f"/console/users/{user.pk}/" + path.format(**objects)


def state(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.is_active,
        user.deleted_at,
        user.password,
        sorted(str(r) for r in Session.objects.filter(user=user).values_list("revoked_at", flat=True)),
        SocialAccount.objects.filter(user=user).count(),
        list(DataRequest.objects.filter(user=user).values_list("status", flat=True)),
        account_selectors.lockout_state(user=user),
        OutboxMessage.objects.count(),
    )


def post(client: Any, action: str, target_url: str, data: dict[str, str]) -> Any:
    return client.post(
        target_url, data, headers=htmx("consents" if action == "consent_history" else "detail")
    )


def refusal(actor: User, subject: User) -> dict[str, Any]:
    event = AuditEvent.objects.filter(action="staff.action_refused").order_by("-id").first()
    assert event is not None
    assert event.actor_id == actor.pk and event.subject_id == subject.pk and event.actor_type == "staff"
    return event.details


@pytest.fixture
def viewer(make_user) -> User:
    """Staff who may see users but hold no action's permission."""
    user = make_user(email="viewer@example.com", is_staff=True)
    user.user_permissions.set(permissions(["accounts.view_user"]))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def boss(make_user) -> User:
    return make_user(email="boss@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def approver_only(make_user) -> User:
    """Staff in the Approver role only: holds gdpr.approve_erasure, which a Support member lacks."""
    return with_roles(make_user(email="approver-only@example.com", is_staff=True), "Approver")


@pytest.mark.parametrize(("action", "path", "data", "name"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_refused_without_the_permission(viewer, make_user, action, path, data, name):
    target = make_user(email="target@example.com", verified=False)
    objects = equip(target)
    before = state(target)

    response = post(client_for(viewer), action, url(target, path, objects), data)

    assert response.status_code == 403, response.content
    assert "You do not have the permission this action needs." in response.content.decode()
    assert "<html" not in response.content.decode()  # shown in the page's partial
    assert state(target) == before
    permission = refusal(viewer, target)
    assert permission == {"action": name, "reason": "permission", "permission": permission["permission"]}
    assert not viewer.has_perm(permission["permission"])


@pytest.mark.parametrize(("action", "path", "data", "name"), RANKED, ids=[a[0] for a in RANKED])
def test_support_may_not_act_on_a_superuser(staff, boss, action, path, data, name):
    objects = equip(boss)
    before = state(boss)

    response = post(client_for(staff), action, url(boss, path, objects), data)

    assert response.status_code == 403, response.content
    assert "holds permissions you do not have" in response.content.decode()
    assert state(boss) == before
    assert refusal(staff, boss)["reason"] == "rank"
    assert refusal(staff, boss)["action"] == name


@pytest.mark.parametrize(("action", "path", "data", "name"), RANKED, ids=[a[0] for a in RANKED])
def test_support_may_not_act_on_an_approver(staff, approver_only, action, path, data, name):
    objects = equip(approver_only)
    before = state(approver_only)

    response = post(client_for(staff), action, url(approver_only, path, objects), data)

    assert response.status_code == 403, response.content
    assert state(approver_only) == before
    assert refusal(staff, approver_only) == {
        "action": name,
        "reason": "rank",
        "permission": refusal(staff, approver_only)["permission"],
    }


def test_a_refusal_to_a_plain_post_is_the_whole_page_with_403(staff, boss):
    equip(boss)
    response = client_for(staff).post(f"/console/users/{boss.pk}/logout-all/")
    body = response.content.decode()
    assert response.status_code == 403 and "<html" in body and 'id="detail"' in body
    assert "holds permissions you do not have" in body
    assert Session.objects.get(user=boss).revoked_at is None


def test_a_superuser_acts_on_a_superuser(make_user, boss):
    other = make_user(email="other-boss@example.com", is_staff=True, is_superuser=True)
    equip(other)
    response = client_for(boss).post(f"/console/users/{other.pk}/logout-all/", headers=htmx("detail"))
    assert response.status_code == 200
    assert Session.objects.get(user=other).revoked_at is not None
    assert not AuditEvent.objects.filter(action="staff.action_refused").exists()


def test_support_acts_on_a_colleague_of_the_same_role(staff, make_user):
    colleague = with_roles(make_user(email="colleague@example.com", is_staff=True), "Support")
    equip(colleague)
    response = client_for(staff).post(f"/console/users/{colleague.pk}/logout-all/", headers=htmx("detail"))
    assert response.status_code == 200
    assert Session.objects.get(user=colleague).revoked_at is not None


def test_a_deactivated_approver_still_outranks_support(staff, approver_only, boss):
    client_for(boss).post(f"/console/users/{approver_only.pk}/deactivate/")
    assert not User.objects.get(pk=approver_only.pk).is_active
    response = client_for(staff).post(
        f"/console/users/{approver_only.pk}/reactivate/", headers=htmx("detail")
    )
    assert response.status_code == 403
    assert not User.objects.get(pk=approver_only.pk).is_active
    assert refusal(staff, approver_only)["reason"] == "rank"


def test_reading_a_superusers_consent_history_needs_no_rank(staff, boss):
    response = client_for(staff).post(f"/console/users/{boss.pk}/consents/", REASON, headers=htmx("consents"))
    assert response.status_code == 200
    assert AuditEvent.objects.get(action="consent.history_viewed").subject_id == boss.pk


def test_an_outranked_account_shows_no_action(staff, boss):
    equip(boss)
    page = client_for(staff).get(f"/console/users/{boss.pk}/").content.decode()
    assert 'id="outranked"' in page and "(a superuser's)" in page
    for door in ("logout-all", "password-reset", "deactivate", "/unlink/", "Revoke</button>"):
        assert door not in page, door
    # What needs no rank stays: reading the consent ledger.
    assert "Show consent history" in page


def test_missing_permissions_hide_their_buttons(viewer, make_user):
    target = make_user(email="target@example.com", verified=False)
    equip(target)
    page = client_for(viewer).get(f"/console/users/{target.pk}/").content.decode()
    assert 'id="outranked"' not in page
    for door in ("logout-all", "password-reset", "deactivate", "verification", "/unlink/", "consents/"):
        assert door not in page, door


def test_staff_without_view_user_see_no_user(make_user, user):
    nobody = make_user(email="nobody@example.com", is_staff=True)
    client = client_for(nobody)
    for path in ("/console/users/", f"/console/users/{user.pk}/", "/console/audit/"):
        response = client.get(path)
        assert response.status_code == 403 and b"permission" in response.content, path
    response = client.post(f"/console/users/{user.pk}/logout-all/")
    assert response.status_code == 403


def test_the_audit_log_needs_its_own_permission(viewer):
    assert client_for(viewer).get("/console/audit/").status_code == 403
    viewer.user_permissions.add(*permissions(["audit.view_auditevent"]))
    assert client_for(viewer).get("/console/audit/").status_code == 200


def test_an_approver_may_not_erase_a_superuser(make_user, boss, approver_only):
    from gdpr import services as gdpr_services

    request = gdpr_services.data_request_create(user=boss, actor=boss, type="erasure")
    client = client_for(approver_only)
    for verb, data in (("approve", {}), ("reject", REASON)):
        response = client.post(f"/console/deletions/{request.pk}/{verb}/", data, headers=htmx("queue"))
        assert response.status_code == 403 and b"holds permissions you do not have" in response.content
        assert refusal(approver_only, boss) == {
            "action": "erasure.decide",
            "reason": "rank",
            "permission": "gdpr.approve_erasure",
        }
    assert DataRequest.objects.get(pk=request.pk).status == "awaiting_approval"
    # A superuser may.
    response = client_for(make_user(email="root@example.com", is_staff=True, is_superuser=True)).post(
        f"/console/deletions/{request.pk}/approve/", headers=htmx("queue")
    )
    assert response.status_code == 200
    assert DataRequest.objects.get(pk=request.pk).status == "approved"
