"""Erasure through the services the staff console calls, and through DELETE /me and POST /gdpr/requests."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts import errors as account_errors
from accounts.models import Profile, Session, User
from audit.models import AuditEvent
from audit.services import pseudonym
from core import mail as core_mail
from core.models import OutboxMessage, OutboxStatus
from gdpr import errors, selectors, services
from gdpr.models import ConsentRecord, DataRequest
from tests.conftest import PASSWORD, actions, assert_error, outbox_to
from tests.gdpr.helpers import token_from


@pytest.fixture
def ada(make_user):
    user = make_user(email="ada@example.com", first_name="Ada", last_name="Lovelace", username="ada")
    Profile.objects.filter(user=user).update(
        phone="+44 20 7946 0000",
        bio="Analyst",
        avatar=default_storage.save("avatars/ada.png", ContentFile(b"\x89PNG fake")),
        avatar_thumbnail=default_storage.save("avatars/ada-thumb.png", ContentFile(b"\x89PNG thumb")),
    )
    app = SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="secret")
    account = SocialAccount.objects.create(
        user=user, provider="github", uid="4242", extra_data={"login": "ada"}
    )
    SocialToken.objects.create(app=app, account=account, token="gho_secret")
    return User.objects.get(pk=user.pk)


@pytest.fixture
def ada_tokens(ada, login):
    return login("ada@example.com")


def _export(api, tokens):
    assert api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"]).status_code == 202
    return DataRequest.objects.get(type="export").export_file


def _personal_strings(user):
    return [user.email, user.first_name, user.last_name, str(user.pk), user.pk.hex]


def _event_text(event):
    return json.dumps(
        [str(event.actor_id), str(event.subject_id), event.ip, event.user_agent, event.details], default=str
    )


def _run_due(capture):
    with capture(execute=True):
        call_command("gdpr_run_erasures")


def test_full_erasure_after_delete_me(
    api, ada, ada_tokens, approver, superuser, time_machine, django_capture_on_commit_callbacks
):
    export_file = _export(api, ada_tokens)
    assert default_storage.exists(export_file.storage_path)
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=ada_tokens["access"])
    personal = _personal_strings(ada)

    r = api.call("delete", "/me", {"password": PASSWORD}, token=ada_tokens["access"])
    assert r.status_code == 202
    request = DataRequest.objects.get(user=ada, type="erasure")
    assert request.status == "awaiting_approval" and request.source == "account_deleted"
    assert list(selectors.erasure_queue()) == [request]

    # The subject may not decide about themselves, even holding the permission.
    ada.is_staff = True
    ada.is_superuser = True
    ada.save(update_fields=["is_staff", "is_superuser"])
    with pytest.raises(errors.SelfApproval) as refused:
        services.erasure_approve(data_request=request, actor=User.objects.get(pk=ada.pk))
    assert refused.value.status == 403 and refused.value.code == "self_approval"
    request.refresh_from_db()
    assert request.status == "awaiting_approval"
    # (An approver who is no superuser may not erase a superuser's account: the rank rule.)
    User.objects.filter(pk=ada.pk).update(is_staff=False, is_superuser=False)

    with django_capture_on_commit_callbacks(execute=True):
        services.erasure_approve(data_request=request, actor=approver)
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by == approver
    assert request.scheduled_for == request.decided_at + timedelta(days=7)
    assert list(selectors.erasure_queue()) == []
    assert outbox_to("ada@example.com")[-1].subject == "Your erasure request was approved"

    # Within the grace period nothing happens.
    time_machine.move_to(timezone.now() + timedelta(days=6))
    _run_due(django_capture_on_commit_callbacks)
    assert DataRequest.objects.get(pk=request.pk).status == "approved"
    assert default_storage.exists(export_file.storage_path)

    time_machine.move_to(timezone.now() + timedelta(days=1, minutes=5))
    mail.outbox.clear()
    _run_due(django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.status == "completed"

    # The confirmation went to the address before it was erased.
    assert [m.subject for m in outbox_to("ada@example.com")] == ["Your personal data has been erased"]

    erased = User.objects.get(pk=ada.pk)
    assert (
        erased.email == "" and erased.username is None and erased.first_name == "" and erased.last_name == ""
    )
    assert not erased.is_active and erased.deleted_at is not None and not erased.has_usable_password()
    profile = Profile.objects.get(user=erased)
    assert (profile.phone, profile.bio, profile.avatar, profile.avatar_thumbnail) == ("", "", "", "")
    assert not default_storage.exists("avatars/ada.png") and not default_storage.exists(
        "avatars/ada-thumb.png"
    )
    assert not default_storage.exists(export_file.storage_path)
    assert not SocialAccount.objects.filter(user=erased).exists() and not SocialToken.objects.exists()
    assert not Session.objects.filter(user=erased, revoked_at__isnull=True).exists()
    assert not Session.objects.filter(user=erased).exclude(ip=None).exists()
    assert ConsentRecord.objects.filter(user=erased).count() == 1
    assert not ConsentRecord.objects.filter(user=erased).exclude(ip=None).exists()

    # Audit events remain, under a pseudonym, without e-mail, name or user id.
    alias = pseudonym(ada.pk)
    kept = AuditEvent.objects.filter(subject_id=alias)
    assert kept.count() >= 8
    assert {"user.deleted", "gdpr.erasure_approved", "gdpr.erasure_completed"} <= set(
        kept.values_list("action", flat=True)
    )
    for event in AuditEvent.objects.all():
        text = _event_text(event)
        for value in personal:
            assert value not in text, (event.action, value)

    # The user cannot log in; the address can register again.
    assert_error(api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}), 401)
    assert_error(api.post_json("/auth/token", {"login": "ada", "password": PASSWORD}), 401)
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD, "username": "ada"})
    assert r.status_code == 201, r.content

    # Running the job again changes nothing.
    before = AuditEvent.objects.count()
    services.erasure_run(data_request_id=request.pk)
    assert AuditEvent.objects.count() == before


def test_erasure_via_api_cancelled_in_grace_period(
    api, ada, ada_tokens, approver, login, time_machine, django_capture_on_commit_callbacks
):
    r = api.call("post", "/gdpr/requests", {"type": "erasure"}, token=ada_tokens["access"])
    assert r.status_code == 202 and r.json()["status"] == "awaiting_approval"
    request = DataRequest.objects.get(pk=r.json()["id"])
    services.erasure_approve(data_request=request, actor=approver)
    time_machine.move_to(timezone.now() + timedelta(days=3))
    r = api.call("post", f"/gdpr/requests/{request.pk}/cancel", token=login("ada@example.com")["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time_machine.move_to(timezone.now() + timedelta(days=10))
    _run_due(django_capture_on_commit_callbacks)
    assert DataRequest.objects.get(pk=request.pk).status == "cancelled"
    kept = User.objects.get(pk=ada.pk)
    assert kept.email == "ada@example.com" and kept.is_active and kept.deleted_at is None
    assert default_storage.exists("avatars/ada.png")
    assert SocialAccount.objects.filter(user=kept).exists()
    assert "gdpr.erasure_completed" not in actions()


def test_staff_cancel_in_grace_period_with_a_reason(ada, approver, superuser):
    request = services.erasure_open_for_deleted(user=ada, actor=ada)
    services.erasure_approve(data_request=request, actor=approver)
    # Cancelling someone else's request takes a reason; without one nothing changes.
    for blank in ("", "   "):
        with pytest.raises(errors.ReasonRequired) as refused:
            services.data_request_cancel(data_request=request, actor=superuser, reason=blank)
        assert refused.value.status == 422 and "reason" in refused.value.details["fields"]
    assert DataRequest.objects.get(pk=request.pk).status == "approved"
    assert actions(action="gdpr.erasure_cancelled") == []

    services.data_request_cancel(data_request=request, actor=superuser, reason=" The user wrote to support ")
    cancelled = DataRequest.objects.get(pk=request.pk)
    assert cancelled.status == "cancelled" and cancelled.reason == "The user wrote to support"
    assert cancelled.history.last().note == "The user wrote to support"
    event = AuditEvent.objects.get(action="gdpr.erasure_cancelled")
    assert event.actor_id == superuser.pk and event.subject_id == ada.pk
    assert event.details == {"request_id": str(request.pk), "reason": "The user wrote to support"}


def test_running_or_done_erasure_cannot_be_cancelled(ada, approver, superuser):
    request = services.erasure_open_for_deleted(user=ada, actor=ada)
    services.erasure_approve(data_request=request, actor=approver)
    DataRequest.objects.filter(pk=request.pk).update(status="completed")
    with pytest.raises(errors.RequestNotCancellable):
        services.data_request_cancel(data_request=request, actor=ada)


def test_approval_needs_the_permission(ada, make_user):
    request = services.erasure_open_for_deleted(user=ada, actor=ada)
    plain_staff = make_user(email="staff@example.com", is_staff=True)
    with pytest.raises(account_errors.StaffPermissionMissing):
        services.erasure_approve(data_request=request, actor=plain_staff)
    with pytest.raises(account_errors.StaffPermissionMissing):
        services.erasure_reject(data_request=request, actor=plain_staff, reason="no")
    with pytest.raises(account_errors.StaffPermissionMissing):
        services.data_request_cancel(data_request=request, actor=plain_staff)
    assert DataRequest.objects.get(pk=request.pk).status == "awaiting_approval"


def test_reject_records_reason_and_is_final(ada, approver, superuser):
    request = services.erasure_open_for_deleted(user=ada, actor=ada)
    with pytest.raises(errors.SelfApproval):
        services.erasure_reject(data_request=request, actor=ada_staff(ada), reason="x")
    services.erasure_reject(data_request=request, actor=superuser, reason="Legal hold on this account")
    request.refresh_from_db()
    assert request.status == "rejected" and request.reason == "Legal hold on this account"
    assert request.decided_by == superuser
    with pytest.raises(errors.RequestNotPending):
        services.erasure_approve(data_request=request, actor=superuser)
    assert actions(action="gdpr.erasure_rejected") == ["gdpr.erasure_rejected"]
    assert list(request.history.values_list("to_status", flat=True)) == ["awaiting_approval", "rejected"]


def ada_staff(ada):
    User.objects.filter(pk=ada.pk).update(is_staff=True, is_superuser=True)
    return User.objects.get(pk=ada.pk)


def test_delete_me_opens_one_erasure_request(api, ada, ada_tokens):
    api.call("delete", "/me", {"password": PASSWORD}, token=ada_tokens["access"])
    # The signal is idempotent: a second delivery finds the open request.
    services.erasure_open_for_deleted(user=ada, actor=ada)
    assert DataRequest.objects.filter(user=ada, type="erasure").count() == 1
    assert [m.subject for m in outbox_to("ada@example.com")][-1] == "Your erasure request was received"


def test_export_of_deleted_user_link_still_works_until_erasure(api, ada, ada_tokens):
    _export(api, ada_tokens)
    token = token_from(outbox_to("ada@example.com")[-1].body)
    api.call("delete", "/me", {"password": PASSWORD}, token=ada_tokens["access"])
    assert api.call("get", f"/gdpr/exports/{token}").status_code == 200


def test_export_requests_selector(api, ada, ada_tokens):
    _export(api, ada_tokens)
    rows = list(selectors.export_requests())
    assert len(rows) == 1 and rows[0].export_file.size > 0


def test_export_being_built_during_erasure_is_discarded(
    ada, approver, time_machine, django_capture_on_commit_callbacks
):
    from gdpr.services import common, export_build

    export = DataRequest.objects.create(user=ada, type="export", status="pending")
    claimed = common.claim(export.pk, "export")
    built = export_build.archive_build(data_request=claimed, user=ada)
    erasure = services.erasure_open_for_deleted(user=ada, actor=ada)
    services.erasure_approve(data_request=erasure, actor=approver)
    time_machine.move_to(timezone.now() + timedelta(days=8))
    _run_due(django_capture_on_commit_callbacks)
    assert DataRequest.objects.get(pk=erasure.pk).status == "completed"
    assert DataRequest.objects.get(pk=export.pk).status == "cancelled"
    mail.outbox.clear()
    assert export_build.export_finish(data_request=claimed, user=ada, built=built) is None
    assert not default_storage.exists(built.storage_path)
    assert not mail.outbox


def test_erasure_drops_undelivered_side_effects_about_the_user_but_sends_its_confirmation(
    api, ada, ada_tokens, approver, time_machine, django_capture_on_commit_callbacks
):
    r = api.call("post", "/gdpr/requests", {"type": "erasure"}, token=ada_tokens["access"])
    request = DataRequest.objects.get(pk=r.json()["id"])
    services.erasure_approve(data_request=request, actor=approver)
    time_machine.move_to(timezone.now() + timedelta(days=8))
    # A mail about Ada whose delivery keeps failing: it waits in backoff, carrying her address and name.
    with transaction.atomic():
        core_mail.enqueue(
            template="welcome",
            to="ada@example.com",
            subject_id=ada.pk,
            context={"first_name": "Ada", "link": "https://example.com/login"},
        )
    OutboxMessage.objects.filter(subject_id=ada.pk, status=OutboxStatus.PENDING).update(
        attempts=1, last_error="SMTPServerDisconnected", available_at=timezone.now() + timedelta(hours=1)
    )
    mail.outbox.clear()
    _run_due(django_capture_on_commit_callbacks)

    assert DataRequest.objects.get(pk=request.pk).status == "completed"
    assert not OutboxMessage.objects.filter(subject_id=ada.pk).exclude(status=OutboxStatus.DELIVERED).exists()
    assert [m.subject for m in outbox_to("ada@example.com")] == ["Your personal data has been erased"]
    # Nothing about Ada is still owed; the payloads already delivered were emptied.
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.DELIVERED).exists()
    assert "ada@example.com" not in json.dumps(list(OutboxMessage.objects.values_list("payload", flat=True)))
    details = AuditEvent.objects.get(action="gdpr.erasure_completed").details
    assert details["outbox_rows"] >= 1
    assert {
        "export_files",
        "export_rows",
        "avatar_files",
        "social_accounts",
        "social_tokens",
        "sessions_revoked",
        "consents_blanked",
        "user",
    } <= set(details)
    assert details["avatar_files"] == 2 and details["social_accounts"] == 1 and details["user"] == 1


def test_an_export_link_answers_410_after_erasure(
    api, ada, ada_tokens, approver, time_machine, django_capture_on_commit_callbacks
):
    _export(api, ada_tokens)
    token = token_from(outbox_to("ada@example.com")[-1].body)
    assert api.call("head", f"/gdpr/exports/{token}").status_code == 200
    assert api.call("delete", "/me", {"password": PASSWORD}, token=ada_tokens["access"]).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        services.erasure_approve(data_request=DataRequest.objects.get(type="erasure"), actor=approver)
    time_machine.move_to(timezone.now() + timedelta(days=7, minutes=5))
    _run_due(django_capture_on_commit_callbacks)
    assert DataRequest.objects.get(type="erasure").status == "completed"

    # Gone, not unknown: the link existed and was withdrawn.
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")
    assert api.call("head", f"/gdpr/exports/{token}").status_code == 410
    assert DataRequest.objects.get(type="export").status == "expired"
