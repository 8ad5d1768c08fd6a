"""A user's life, driven through the API and the console, reaches a real receiver process as signed
Standard Webhooks events, verified with the standardwebhooks library."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from core.models import OutboxMessage
from gdpr.models import DataRequest
from integrations.models import WebhookDelivery, WebhookEvent
from tests.accounts.support import last_mail, link_query
from tests.conftest import PASSWORD
from tests.console.conftest import with_roles
from tests.integrations.conftest import add_endpoint, on_commit, verify

pytestmark = pytest.mark.usefixtures("allow_private")

NEW = "ada@new.example"


def _one(receiver, secret):
    requests = receiver.take()
    assert len(requests) == 1, [r["body"] for r in requests]
    request = requests[0]
    payload = verify(secret, request)
    assert request["headers"]["webhook-id"] == payload["id"]
    assert request["path"] == "/hooks?token=abc"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json" and headers["user-agent"].startswith("Custodian")
    return payload


def test_a_users_life_reaches_the_receiver_as_signed_events(api, receiver, make_user, time_machine):
    hook = add_endpoint(receiver.url, "*")
    staff = with_roles(make_user(email="staff@example.com", is_staff=True), "Support")
    staff.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    console = Client()
    console.force_login(staff)
    seen = []

    # Registration: user.created.
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    assert r.status_code == 201, r.content
    user_id = r.json()["id"]
    created = _one(receiver, hook.secret)
    assert created["type"] == "user.created"
    assert created["data"] == {"user_id": user_id, "actor_type": "user", "via": "password"}
    seen.append(created)

    # Verifying the address: user.updated names the field, not its value.
    key = link_query(last_mail("ada@example.com", "verify"))["key"]
    assert api.post_json("/auth/email/verify", {"key": key}).status_code == 200
    updated = _one(receiver, hook.secret)
    assert updated["type"] == "user.updated" and updated["data"]["fields"] == ["email_verified"]
    seen.append(updated)

    # Logging in is not an event.
    tokens = api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}).json()
    assert receiver.take() == []

    # Changing the e-mail address: user.email_changed, without either address.
    r = api.call("post", "/me/email", {"new_email": NEW, "password": PASSWORD}, token=tokens["access"])
    assert r.status_code == 202, r.content
    assert receiver.take() == []  # asking is not changing
    key = link_query(last_mail(NEW, "confirm"))["key"]
    assert api.post_json("/auth/email/change/confirm", {"key": key}).status_code == 200
    changed = _one(receiver, hook.secret)
    assert changed["type"] == "user.email_changed"
    assert changed["data"] == {"user_id": user_id, "actor_type": "user"}
    seen.append(changed)

    # Staff log the user out everywhere in the console: session.revoked for all sessions.
    r = on_commit(lambda: console.post(f"/console/users/{user_id}/logout-all/"))
    assert r.status_code == 302
    revoked = _one(receiver, hook.secret)
    assert revoked["type"] == "session.revoked"
    assert revoked["data"] == {
        "user_id": user_id,
        "actor_type": "staff",
        "scope": "all",
        "reason": "force_logout",
        "count": 1,
        "kept_session_id": None,
    }
    seen.append(revoked)

    # Withdrawing a consent: consent.changed.
    tokens = api.post_json("/auth/token", {"login": NEW, "password": PASSWORD}).json()
    r = api.call("put", "/me/consents/marketing_email", {"granted": False}, token=tokens["access"])
    assert r.status_code == 200, r.content
    consent = _one(receiver, hook.secret)
    assert consent["type"] == "consent.changed"
    assert consent["data"] == {
        "user_id": user_id,
        "actor_type": "user",
        "purpose": "marketing_email",
        "granted": False,
        "policy_version": "2026-01",
    }
    seen.append(consent)

    # Deleting the account: user.deleted.
    r = api.call("delete", "/me", {"password": PASSWORD}, token=tokens["access"])
    assert r.status_code == 202, r.content
    deleted = _one(receiver, hook.secret)
    assert deleted["type"] == "user.deleted" and deleted["data"] == {"user_id": user_id, "actor_type": "user"}
    seen.append(deleted)

    # Staff approve the erasure in the console; after the grace period the job erases: user.erased.
    erasure = DataRequest.objects.get(user_id=user_id, type="erasure")
    r = on_commit(lambda: console.post(f"/console/deletions/{erasure.pk}/approve/"))
    assert r.status_code == 302
    assert receiver.take() == []
    time_machine.move_to(timezone.now() + timedelta(days=7, minutes=5))
    on_commit(lambda: call_command("gdpr_run_erasures"))
    erased = _one(receiver, hook.secret)
    assert erased["type"] == "user.erased" and erased["data"] == {"user_id": user_id, "actor_type": "system"}
    seen.append(erased)
    assert User.objects.get(pk=user_id).email == ""

    # Every event has its own id, and sequence numbers increase in the order the changes happened.
    assert len({p["id"] for p in seen}) == len(seen)
    sequences = [p["sequence"] for p in seen]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    # No body carries an address or anything else personal, and each delivery is recorded as delivered.
    for request in receiver.requests():
        for personal in ("ada@example.com", NEW, "@"):
            assert personal not in request["body"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert WebhookDelivery.objects.filter(attempts=1, last_status_code=200).count() == len(seen)


def test_no_endpoint_no_rows_and_hot_paths_never_write(api, receiver, make_user, login):
    """With nobody subscribed nothing is written; logins and refreshes are never events, even when an
    endpoint wants every type."""
    user = make_user()
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=login()["access"])
    assert not OutboxMessage.objects.filter(topic="integrations.webhook_event").exists()
    assert not WebhookEvent.objects.exists()

    add_endpoint(receiver.url, "*")
    before = OutboxMessage.objects.count()
    tokens = login()
    r = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert r.status_code == 200
    assert OutboxMessage.objects.count() == before
    assert not WebhookEvent.objects.exists() and receiver.requests() == []
    assert user.pk


def test_an_endpoint_gets_only_the_types_it_subscribed_to(api, receiver_factory, make_user, login):
    erasures, everything = receiver_factory(), receiver_factory()
    only_erased = add_endpoint(erasures.url, "user.erased", "user.deleted")
    add_endpoint(everything.url, "*")
    make_user()
    tokens = login()
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=tokens["access"])
    api.call("delete", "/me", {"password": PASSWORD}, token=tokens["access"])
    assert [verify(only_erased.secret, r)["type"] for r in erasures.requests()] == ["user.deleted"]
    assert [r["headers"]["webhook-id"] for r in everything.requests()] != []
    assert sorted(WebhookEvent.objects.values_list("type", flat=True)) == ["consent.changed", "user.deleted"]
