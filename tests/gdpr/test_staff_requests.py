"""Requests started or decided by staff: an export on a user's behalf, and the four-eyes rule of erasure
decisions (not about oneself, not of a request one opened)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail

from accounts import errors as account_errors
from accounts.models import User
from gdpr import errors, services
from gdpr.models import DataRequest
from tests.conftest import actions


def test_staff_start_an_export_for_a_user(
    make_user: Callable[..., User], approver: User, django_capture_on_commit_callbacks
) -> None:
    ada = make_user(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        data_request = services.export_request_for_user(user=ada, actor=approver, source="admin_api")
    assert data_request.source == "admin_api" and data_request.user == ada
    assert DataRequest.objects.get().status == "ready"
    assert [m.to for m in mail.outbox if m.subject == "Your data export is ready"] == [["ada@example.com"]]
    assert actions(subject_id=ada.pk)[0] == "gdpr.export_requested"
    # The user's own daily limit does not count it, one open export per user still holds.
    DataRequest.objects.update(status="pending")
    with pytest.raises(errors.RequestOpen):
        services.export_request_for_user(user=ada, actor=approver, source="admin_api")


def test_only_active_staff_and_only_for_live_users(make_user: Callable[..., User], approver: User) -> None:
    ada = make_user(email="ada@example.com")
    bob = make_user(email="bob@example.com")
    with pytest.raises(account_errors.StaffOnly):
        services.export_request_for_user(user=ada, actor=bob, source="admin_api")
    approver.is_active = False
    with pytest.raises(account_errors.StaffOnly):
        services.export_request_for_user(user=ada, actor=approver, source="admin_api")
    approver.is_active = True
    User.objects.filter(pk=ada.pk).update(deleted_at="2026-01-01T00:00:00Z")
    ada.refresh_from_db()
    with pytest.raises(errors.UserDeleted):
        services.export_request_for_user(user=ada, actor=approver, source="admin_api")
    assert not DataRequest.objects.exists()


def test_nobody_decides_on_an_erasure_they_opened(
    make_user: Callable[..., User], approver: User, superuser: User
) -> None:
    ada = make_user(email="ada@example.com")
    opened = services.erasure_open_for_deleted(user=ada, actor=approver)
    for decide in (
        lambda: services.erasure_approve(data_request=opened, actor=approver),
        lambda: services.erasure_reject(data_request=opened, actor=approver, reason="no"),
    ):
        with pytest.raises(errors.SelfApproval):
            decide()
    assert DataRequest.objects.get().status == "awaiting_approval"
    # A second pair of eyes may.
    assert services.erasure_approve(data_request=opened, actor=superuser).status == "approved"
