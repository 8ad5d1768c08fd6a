"""Support actions on the user page, each through the service the API uses, with a reason, audited: send a
password-reset link, see and clear a sign-in lock, restore a soft-deleted account before its erasure runs,
unlink a social account, read the consent history. Refusals for permission and rank are in
test_staff_rank.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from audit.models import AuditEvent
from core import outbox
from core.models import OutboxMessage
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.accounts.support import last_mail, link_query
from tests.conftest import PASSWORD, actions, assert_error, outbox_to
from tests.console.conftest import client_for, htmx

REASON = "Asked by phone, ticket 4711"
WRONG = "not-the-password-0"


@pytest.fixture
def console(staff):
    return client_for(staff)


def detail(response) -> str:
    body = response.content.decode()
    assert body.strip().startswith('<div id="detail">'), body[:200]
    return body


def lock(api, settings, login="ada@example.com", times=None):
    for _ in range(times or settings.LOGIN_LOCKOUT_FAILURES):
        api.post_json("/auth/token", {"login": login, "password": WRONG})


# --- password-reset link --------------------------------------------------------------------------------


def test_send_a_password_reset_link(api, staff, console, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            f"/console/users/{user.pk}/password-reset/",
            {"reason": REASON},
            headers=htmx("detail"),
            REMOTE_ADDR="198.51.100.7",
        )
    assert response.status_code == 200
    assert "A password-reset link is on its way to ada@example.com." in detail(response)

    message = last_mail("ada@example.com", "reset")
    assert "support team sent you this link" in message.body
    assert "198.51.100.7" not in message.body  # the staff member's address is not the user's business
    event = AuditEvent.objects.get(action="user.password_reset_requested")
    assert (event.actor_id, event.actor_type, event.subject_id) == (staff.pk, "staff", user.pk)
    assert event.details == {"reason": REASON}
    query = link_query(message)
    confirm = api.post_json(
        "/auth/password/reset/confirm",
        {"uid": query["uid"], "token": query["token"], "new_password": "a-brand-new-passphrase-4"},
    )
    assert confirm.status_code == 200


@pytest.mark.parametrize("data", [{}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_reason_is_required(console, user, data):
    response = console.post(f"/console/users/{user.pk}/password-reset/", data, headers=htmx("detail"))
    assert response.status_code == 400
    body = detail(response)
    assert "Give a reason" in body or "Keep the reason to 500 characters" in body
    assert not OutboxMessage.objects.exists()
    assert not AuditEvent.objects.filter(action="user.password_reset_requested").exists()


@pytest.mark.parametrize("state", [{"is_active": False}, {"deleted_at": timezone.now()}])
def test_no_reset_link_for_a_deactivated_or_deleted_account(console, user, state):
    User.objects.filter(pk=user.pk).update(**state)
    response = console.post(
        f"/console/users/{user.pk}/password-reset/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 409
    assert "a reset link would not work" in detail(response)
    assert not OutboxMessage.objects.exists()


# --- sign-in lock ---------------------------------------------------------------------------------------


def test_the_page_shows_the_lock_and_support_clears_it(api, staff, console, user, settings):
    lock(api, settings, times=2)
    page = console.get(f"/console/users/{user.pk}/").content.decode()
    assert "not locked; 2 failed passwords in the current window" in page
    lock(api, settings)
    page = console.get(f"/console/users/{user.pk}/").content.decode()
    assert '<span class="badge bad">locked</span> until' in page and 'id="lockout-clear"' in page
    assert_error(api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}), 429, "locked")

    response = console.post(
        f"/console/users/{user.pk}/lockout/clear/", {"reason": REASON}, headers=htmx("detail")
    )

    assert response.status_code == 200
    body = detail(response)
    assert "The sign-in lock is cleared" in body and ">not locked</dd>" in body
    assert 'id="lockout-clear"' not in body
    assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200
    event = AuditEvent.objects.get(action="auth.lockout_cleared")
    assert (event.actor_id, event.subject_id) == (staff.pk, user.pk)
    assert event.details["reason"] == REASON and event.details["locked_until"]
    # Nothing left to clear: a clear message, nothing audited.
    again = console.post(
        f"/console/users/{user.pk}/lockout/clear/", {"reason": REASON}, headers=htmx("detail")
    )
    assert again.status_code == 409 and "no failed sign-ins to clear" in detail(again)
    assert actions(action="auth.lockout_cleared") == ["auth.lockout_cleared"]


def test_failures_without_a_lock_can_be_cleared(api, console, user, settings):
    lock(api, settings, times=2)
    response = console.post(
        f"/console/users/{user.pk}/lockout/clear/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="auth.lockout_cleared")
    assert event.details == {"reason": REASON, "failures": 2, "locked_until": None}


def test_staff_do_not_clear_their_own_lock(api, staff, console, settings):
    lock(api, settings, login=staff.email)
    response = console.post(
        f"/console/users/{staff.pk}/lockout/clear/", {"reason": "me"}, headers=htmx("detail")
    )
    assert response.status_code == 403 and "their own account" in detail(response)
    event = AuditEvent.objects.get(action="staff.action_refused")
    assert event.details == {
        "action": "lockout.clear",
        "reason": "self",
        "permission": "accounts.clear_lockout",
    }
    assert_error(api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD}), 429, "locked")


# --- restore ---------------------------------------------------------------------------------------------


@pytest.fixture
def deleted(api, user, tokens):
    response = api.call("delete", "/me", {"password": PASSWORD}, token=tokens["access"])
    assert response.status_code == 202
    user.refresh_from_db()
    assert user.deleted_at is not None
    return user


def test_restore_within_the_grace_period(
    api, staff, console, deleted, superuser_approves, django_capture_on_commit_callbacks, time_machine
):
    request = DataRequest.objects.get(user=deleted, type="erasure")
    superuser_approves(request)
    page = console.get(f"/console/users/{deleted.pk}/").content.decode()
    assert 'id="restore"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(
            f"/console/users/{deleted.pk}/restore/", {"reason": REASON}, headers=htmx("detail")
        )

    assert response.status_code == 200
    assert "The account is restored" in detail(response)
    deleted.refresh_from_db()
    assert deleted.deleted_at is None
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}).status_code == 200
    restored = AuditEvent.objects.get(action="user.restored")
    assert (restored.actor_id, restored.subject_id, restored.details["reason"]) == (
        staff.pk,
        deleted.pk,
        REASON,
    )
    cancelled = AuditEvent.objects.get(action="gdpr.erasure_cancelled")
    assert cancelled.actor_id == staff.pk
    assert cancelled.details == {"request_id": str(request.pk), "reason": "account_restored"}
    message = last_mail("ada@example.com", "restored")
    assert "will not be erased" in message.body

    # After the grace period the erasure job finds nothing to do.
    time_machine.move_to(timezone.now() + timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("gdpr_run_erasures")
    assert User.objects.get(pk=deleted.pk).email == "ada@example.com"


def test_restore_refused_when_the_address_is_taken_again(api, console, deleted, make_user):
    make_user(email="ADA@example.com")
    response = console.post(
        f"/console/users/{deleted.pk}/restore/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 409
    assert "A live account holds it now" in detail(response)
    assert User.objects.get(pk=deleted.pk).deleted_at is not None
    assert DataRequest.objects.get(user=deleted, type="erasure").status == "awaiting_approval"
    assert not AuditEvent.objects.filter(action__in=["user.restored", "gdpr.erasure_cancelled"]).exists()


def test_restore_refused_while_the_erasure_runs(console, deleted):
    DataRequest.objects.filter(user=deleted, type="erasure").update(status="running")
    response = console.post(
        f"/console/users/{deleted.pk}/restore/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 409 and "running right now" in detail(response)
    assert User.objects.get(pk=deleted.pk).deleted_at is not None
    assert DataRequest.objects.get(user=deleted, type="erasure").status == "running"


def test_an_erased_account_is_not_restorable(
    console, deleted, superuser_approves, django_capture_on_commit_callbacks, time_machine
):
    superuser_approves(DataRequest.objects.get(user=deleted, type="erasure"))
    time_machine.move_to(timezone.now() + timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("gdpr_run_erasures")
    assert User.objects.get(pk=deleted.pk).email == ""
    page = console.get(f"/console/users/{deleted.pk}/").content.decode()
    assert 'id="restore"' not in page and "<h1>erased user</h1>" in page
    response = console.post(
        f"/console/users/{deleted.pk}/restore/", {"reason": REASON}, headers=htmx("detail")
    )
    assert response.status_code == 409 and "its erasure has already run" in detail(response)


def test_a_live_account_is_not_restorable(console, user):
    response = console.post(f"/console/users/{user.pk}/restore/", {"reason": REASON}, headers=htmx("detail"))
    assert response.status_code == 409
    assert not AuditEvent.objects.filter(action="user.restored").exists()


def test_restored_before_the_erasure_was_opened(staff, user, login):
    """The deletion's outbox event is handled after the restore: no erasure is opened for a live account."""
    session = account_services.session_open(user=user, via="password")[0]
    account_services.user_soft_delete(session=session, password=PASSWORD)  # outbox rows left pending
    account_services.user_restore(user=User.objects.get(pk=user.pk), actor=staff, reason=REASON)
    outbox.relay()
    assert not DataRequest.objects.filter(user=user).exists()
    assert OutboxMessage.objects.filter(topic="accounts.user_soft_deleted", status="delivered").count() == 1


@pytest.fixture
def superuser_approves(make_user):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)

    def approve(request: DataRequest) -> None:
        gdpr_services.erasure_approve(data_request=request, actor=boss)

    return approve


# --- social account --------------------------------------------------------------------------------------


def test_unlink_a_social_account(staff, console, user):
    account = SocialAccount.objects.create(user=user, provider="google", uid="g-1")
    response = console.post(
        f"/console/users/{user.pk}/social-accounts/{account.pk}/unlink/",
        {"reason": REASON},
        headers=htmx("detail"),
    )
    assert response.status_code == 200 and "The google account is unlinked." in detail(response)
    assert not SocialAccount.objects.filter(pk=account.pk).exists()
    event = AuditEvent.objects.get(action="social.unlinked")
    assert (event.actor_id, event.actor_type, event.subject_id) == (staff.pk, "staff", user.pk)
    assert event.details == {
        "provider": "google",
        "social_account_id": account.pk,
        "reason": "unlinked",
        "note": REASON,
    }


def test_the_last_login_method_stays(console, make_user):
    social_only = make_user(email="social@example.com", password=None)
    account = SocialAccount.objects.create(user=social_only, provider="github", uid="gh-1")
    response = console.post(
        f"/console/users/{social_only.pk}/social-accounts/{account.pk}/unlink/",
        {"reason": REASON},
        headers=htmx("detail"),
    )
    assert response.status_code == 409 and "the user&#x27;s last way to log in" in detail(response)
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_another_users_social_account_is_404(console, user, make_user):
    other = make_user(email="other@example.com")
    account = SocialAccount.objects.create(user=other, provider="google", uid="g-2")
    response = console.post(
        f"/console/users/{user.pk}/social-accounts/{account.pk}/unlink/", {"reason": REASON}
    )
    assert response.status_code == 404
    assert SocialAccount.objects.filter(pk=account.pk).exists()


# --- consent history ------------------------------------------------------------------------------------


def test_read_the_consent_history_with_a_reason(api, staff, console, user, tokens):
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=tokens["access"])
    api.call("put", "/me/consents/marketing_email", {"granted": False}, token=tokens["access"])
    page = console.get(f"/console/users/{user.pk}/").content.decode()
    assert "Show consent history" in page and "<th>Purpose</th>" not in page

    response = console.post(
        f"/console/users/{user.pk}/consents/", {"reason": REASON}, headers=htmx("consents")
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith('<section id="consents">')
    assert body.count("marketing_email") == 2 and "withdrawn" in body and "granted" in body
    event = AuditEvent.objects.get(action="consent.history_viewed")
    assert (event.actor_id, event.subject_id, event.details) == (
        staff.pk,
        user.pk,
        {"reason": REASON, "records": 2},
    )
    # Without htmx: the whole page, holding the history.
    full = console.post(f"/console/users/{user.pk}/consents/", {"reason": REASON})
    assert full.status_code == 200 and b"<html" in full.content and b"withdrawn" in full.content


def test_consent_history_needs_a_reason(console, user):
    response = console.post(f"/console/users/{user.pk}/consents/", {}, headers=htmx("consents"))
    assert response.status_code == 400 and "Give a reason" in response.content.decode()
    assert not AuditEvent.objects.filter(action="consent.history_viewed").exists()


def test_consent_history_refused_without_the_permission(make_user, user):
    from tests.console.conftest import permissions

    viewer = make_user(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.set(permissions(["accounts.view_user"]))
    response = client_for(viewer).post(
        f"/console/users/{user.pk}/consents/", {"reason": REASON}, headers=htmx("consents")
    )
    assert response.status_code == 403
    assert response.content.decode().strip().startswith('<section id="consents">')
    assert AuditEvent.objects.get(action="staff.action_refused").details["action"] == "consent.history_view"
    assert outbox_to(user.email) == []
