"""What goes out: only ids, types, flags and counts; the secret encrypted at rest; retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from integrations import events, services, signing, tasks
from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.conftest import PASSWORD
from tests.console.conftest import with_roles
from tests.integrations.conftest import add_endpoint, on_commit, verify

pytestmark = pytest.mark.usefixtures("allow_private")


def _payloads(receiver, secret):
    return [verify(secret, r) for r in receiver.take()]


def test_profile_changes_name_fields_not_values(api, user, login, receiver):
    hook = add_endpoint(receiver.url, "user.updated")
    token = login()["access"]
    r = api.call("patch", "/me", {"first_name": "Augusta", "phone": "+44 20 7946 0000"}, token=token)
    assert r.status_code == 200, r.content
    [payload] = _payloads(receiver, hook.secret)
    assert payload["data"] == {
        "user_id": str(user.pk),
        "actor_type": "user",
        "fields": ["first_name", "phone"],
    }
    assert "Augusta" not in receiver.requests()[0]["body"] and "7946" not in receiver.requests()[0]["body"]


def test_staff_deactivation_reason_is_not_sent(user, make_user, receiver):
    hook = add_endpoint(receiver.url, "user.deactivated", "user.reactivated")
    staff = with_roles(make_user(email="staff@example.com", is_staff=True), "Support")
    console = Client()
    console.force_login(staff)
    on_commit(
        lambda: console.post(
            f"/console/users/{user.pk}/deactivate/", {"reason": "fraud, ask ada@example.com"}
        )
    )
    on_commit(lambda: console.post(f"/console/users/{user.pk}/reactivate/"))
    deactivated, reactivated = _payloads(receiver, hook.secret)
    assert deactivated["type"] == "user.deactivated"
    assert deactivated["data"] == {"user_id": str(user.pk), "actor_type": "staff", "sessions_revoked": 0}
    assert reactivated["type"] == "user.reactivated"
    assert "fraud" not in receiver.requests()[0]["body"]


def test_session_revocations(api, user, login, receiver, make_user, settings):
    hook = add_endpoint(receiver.url, "session.revoked")
    first, second = login(), login()
    assert api.call("post", "/auth/logout", token=first["access"]).status_code == 204
    # A spent refresh token presented again: the session is revoked for reuse.
    assert api.post_json("/auth/token/refresh", {"refresh": second["refresh"]}).status_code == 200
    settings.REFRESH_REUSE_GRACE_SECONDS = 0
    assert api.post_json("/auth/token/refresh", {"refresh": second["refresh"]}).status_code == 401
    # Nothing live is left: staff "log out everywhere" ends nothing and sends nothing.
    staff = with_roles(make_user(email="staff@example.com", is_staff=True), "Support")
    console = Client()
    console.force_login(staff)
    assert on_commit(lambda: console.post(f"/console/users/{user.pk}/logout-all/")).status_code == 302

    logout, reused = _payloads(receiver, hook.secret)
    assert logout["data"] == {
        "user_id": str(user.pk),
        "actor_type": "user",
        "scope": "session",
        "session_id": first["session_id"],
        "reason": "logout",
    }
    assert reused["data"] == {
        "user_id": str(user.pk),
        "actor_type": "system",
        "scope": "session",
        "session_id": second["session_id"],
        "reason": "token_reused",
    }


def test_password_change_ending_other_sessions_is_one_event(api, user, login, receiver):
    hook = add_endpoint(receiver.url, "session.revoked")
    login()
    current = login()
    r = api.call(
        "post",
        "/me/password",
        {"current_password": PASSWORD, "new_password": "another-horse-battery-7"},
        token=current["access"],
    )
    assert r.status_code == 200, r.content
    [payload] = _payloads(receiver, hook.secret)
    assert payload["data"]["scope"] == "all" and payload["data"]["count"] == 1
    assert payload["data"]["reason"] == "password_changed"
    assert payload["data"]["kept_session_id"] == current["session_id"]


def test_a_failing_change_publishes_nothing(api, user, login, receiver, make_user):
    add_endpoint(receiver.url, "*")
    make_user(email="taken@example.com", username="taken")
    r = api.call("patch", "/me", {"username": "taken"}, token=login()["access"])
    assert r.status_code == 409
    assert not WebhookEvent.objects.exists() and receiver.requests() == []


def test_every_mapped_event_type_is_in_the_catalogue():
    assert {event_type for event_type, _ in events.ACTIONS.values()} == set(events.EVENT_TYPES)


def test_secret_is_encrypted_under_the_configured_key(db, settings, receiver):
    hook = add_endpoint(receiver.url, "*")
    stored = WebhookEndpoint.objects.get().secret_encrypted
    assert hook.secret not in stored and signing.decrypt(stored) == hook.secret
    settings.WEBHOOKS_SECRET_KEY = "another key entirely"
    with pytest.raises(signing.SecretUnreadable):
        signing.decrypt(stored)
    settings.WEBHOOKS_SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    assert signing.decrypt(stored) == hook.secret


def test_an_unreadable_secret_fails_the_attempt_without_sending(api, user, login, receiver, settings):
    add_endpoint(receiver.url, "*")
    settings.WEBHOOKS_SECRET_KEY = "changed without a fallback"
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=login()["access"])
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and "does not decrypt" in delivery.last_error
    assert receiver.requests() == []


def test_retention_purges_old_finished_events_and_expired_secrets(
    api, user, login, receiver, settings, time_machine
):
    hook = add_endpoint(receiver.url, "*")
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=login()["access"])
    assert WebhookEvent.objects.count() == 1
    services.endpoint_secret_rotate(endpoint=hook.endpoint, actor=None, grace_hours=1)
    time_machine.move_to(timezone.now() + timedelta(days=31))
    tasks.webhook_retention()
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret_encrypted == "" and endpoint.previous_secret_expires_at is None
