from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from core import outbox
from core.models import OutboxMessage
from tests.conftest import PASSWORD, ApiClient


def test_mail_is_queued_on_commit_and_not_for_a_rolled_back_change(api: ApiClient, make_user) -> None:
    make_user("ada@example.com")
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 409
    assert mail.outbox == []  # the failed registration queued nothing


def test_failed_send_is_retried_with_backoff(api: ApiClient, settings) -> None:
    settings.EMAIL_BACKEND = "tests.support.mail.DownSMTPBackend"
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 201  # the API does not wait for SMTP
    row = OutboxMessage.objects.get(topic="mail.send")
    assert row.status == "pending" and row.attempts == 1 and row.available_at > timezone.now()
    assert "ConnectionRefusedError" in row.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.relay().claimed == 0  # not due yet: it backs off
    with time_machine.travel(row.available_at + timedelta(seconds=1)):
        assert outbox.relay().delivered == 1
    assert [m.to for m in mail.outbox] == [["ada@example.com"]]
    row.refresh_from_db()
    assert row.status == "delivered" and row.payload == {}
