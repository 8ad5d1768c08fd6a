"""The console's outbox page: failed deliveries listed for staff, retried by staff with `core.retry_outbox`
(audited), then delivered by the relay."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.core import mail as django_mail
from django.db import transaction

from accounts.models import User
from audit.models import AuditEvent
from core import mail, outbox
from core.models import OutboxMessage
from tests.console.conftest import client_for, htmx


@pytest.fixture
def failed_mail(settings, make_user: Callable[..., User]) -> OutboxMessage:
    """A mail whose every attempt failed (SMTP was down), as the relay leaves it."""
    user = make_user(email="owed@example.com")
    settings.EMAIL_BACKEND = "tests.support.mail.DownSMTPBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 1
    with transaction.atomic():
        mail.enqueue(template="welcome", to=user.email, subject_id=user.pk, context={"first_name": "Owen"})
    assert outbox.relay().failed == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 12
    return OutboxMessage.objects.get(topic="mail.send")


@pytest.fixture
def retrier(make_user: Callable[..., User]) -> User:
    user = make_user(email="ops@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="core", codename="retry_outbox"))
    return user


def test_the_page_lists_failed_deliveries_only(staff_client, failed_mail) -> None:
    with transaction.atomic():
        mail.enqueue(template="welcome", to="waiting@example.com", context={})
    page = staff_client.get("/console/outbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="outbox-{failed_mail.pk}"' in html
    assert "mail.send" in html and "core.mail.send" in html
    assert "ConnectionRefusedError: SMTP server unreachable" in html
    assert html.count('<tr id="outbox-') == 1  # the pending one is not listed
    assert "Waiting for delivery: 1" in html and "Failed: 1" in html
    # Without the permission: no retry button, and the page says why.
    assert "Retry</button>" not in html and "needs the outbox retry permission" in html
    assert 'href="/console/outbox/"' in html  # in the navigation


def test_the_partial_and_the_button_for_a_retrier(retrier, failed_mail) -> None:
    partial = client_for(retrier).get("/console/outbox/", headers=htmx("failed"))
    assert partial.status_code == 200
    body = partial.content.decode().strip()
    assert body.startswith('<div id="failed">') and "<html" not in body
    assert body.count("Retry</button>") == 1
    assert f'hx-post="/console/outbox/{failed_mail.pk}/retry/"' in body


def test_a_bad_page_number_is_400(staff_client, db) -> None:
    assert staff_client.get("/console/outbox/?page=0").status_code == 400


def test_access(client, make_user, db) -> None:
    assert client.get("/console/outbox/").status_code == 302
    make_user(email="user@example.com")
    assert client_for(User.objects.get(email="user@example.com")).get("/console/outbox/").status_code == 403


def test_retry_is_refused_without_the_permission(staff, staff_client, failed_mail) -> None:
    response = staff_client.post(f"/console/outbox/{failed_mail.pk}/retry/", headers=htmx("failed"))
    assert response.status_code == 403
    failed_mail.refresh_from_db()
    assert failed_mail.status == "failed" and failed_mail.attempts == 1
    assert not AuditEvent.objects.filter(action="outbox.retried").exists()


def test_retry_is_refused_to_non_staff_even_with_the_permission(make_user, failed_mail) -> None:
    user = make_user(email="user@example.com")
    user.user_permissions.add(Permission.objects.get(codename="retry_outbox"))
    response = client_for(user).post(f"/console/outbox/{failed_mail.pk}/retry/")
    assert response.status_code == 403
    assert OutboxMessage.objects.get(pk=failed_mail.pk).status == "failed"


def test_retry_needs_csrf_and_post(retrier, failed_mail) -> None:
    strict = client_for(retrier, enforce_csrf_checks=True)
    assert strict.post(f"/console/outbox/{failed_mail.pk}/retry/").status_code == 403
    assert client_for(retrier).get(f"/console/outbox/{failed_mail.pk}/retry/").status_code == 405
    assert OutboxMessage.objects.get(pk=failed_mail.pk).status == "failed"


def test_retry_queues_it_again_audits_it_and_the_relay_delivers_it(
    retrier, failed_mail, django_capture_on_commit_callbacks
) -> None:
    client = client_for(retrier)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/console/outbox/{failed_mail.pk}/retry/", headers=htmx("failed"))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Delivery #{failed_mail.pk} (mail.send) is queued again." in body
    assert f'id="outbox-{failed_mail.pk}"' not in body  # no longer failed
    row = OutboxMessage.objects.get(pk=failed_mail.pk)
    assert row.status == "pending" and row.attempts == 0
    event = AuditEvent.objects.get(action="outbox.retried")
    assert event.actor_id == retrier.pk and event.actor_type == "staff"
    assert event.subject_id == failed_mail.subject_id
    assert event.details["message_id"] == failed_mail.pk and event.details["topic"] == "mail.send"
    assert event.details["attempts"] == 1 and "ConnectionRefusedError" in event.details["last_error"]
    assert django_mail.outbox == []
    for callback in callbacks:  # the commit's kick: the relay runs (huey is immediate in the tests)
        callback()
    row.refresh_from_db()
    assert row.status == "delivered"
    assert [m.to for m in django_mail.outbox] == [["owed@example.com"]]


def test_a_second_retry_finds_nothing_to_do(retrier, failed_mail) -> None:
    client = client_for(retrier)
    assert client.post(f"/console/outbox/{failed_mail.pk}/retry/", headers=htmx("failed")).status_code == 200
    again = client.post(f"/console/outbox/{failed_mail.pk}/retry/", headers=htmx("failed"))
    assert again.status_code == 404
    assert "it was retried or delivered meanwhile" in again.content.decode()
    assert AuditEvent.objects.filter(action="outbox.retried").count() == 1
    assert client.post("/console/outbox/999999/retry/", headers=htmx("failed")).status_code == 404


def test_a_plain_post_redirects_to_the_page(retrier, failed_mail) -> None:
    response = client_for(retrier).post(f"/console/outbox/{failed_mail.pk}/retry/")
    assert response.status_code == 302 and response["Location"] == "/console/outbox/"
