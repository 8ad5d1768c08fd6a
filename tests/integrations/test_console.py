"""The console's webhook pages: permission, create (secret shown once), edit, rotate, test event, delete,
bad input, CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.models import User
from audit.models import AuditEvent
from integrations import signing
from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import actions
from tests.integrations.conftest import on_commit, verify

SECRET = re.compile(r'<code id="secret-value">(whsec_[A-Za-z0-9+/=]+)</code>')


@pytest.fixture
def manager(make_user) -> User:
    user = make_user(email="ops@example.com", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_webhooks"))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def console(manager) -> Client:
    client = Client()
    client.force_login(manager)
    return client


def _create(console, url, types=("*",), **extra):
    return console.post(
        "/console/webhooks/", {"url": url, "event_types": list(types), "enabled": "on", **extra}
    )


def test_pages_need_the_permission(db, make_user, allow_private):
    staff = make_user(email="staff@example.com", is_staff=True)
    endpoint = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", event_types=["*"], secret_encrypted="x"
    )
    client = Client()
    assert client.get("/console/webhooks/").status_code == 302  # to the login page
    client.force_login(staff)
    home = client.get("/console/users/")
    assert "/console/webhooks/" not in home.content.decode()  # no nav link without the permission
    for path in ("/console/webhooks/", f"/console/webhooks/{endpoint.pk}/"):
        assert client.get(path).status_code == 403
    for path in ("", "edit/", "rotate/", "delete/", "test/"):
        assert client.post(f"/console/webhooks/{endpoint.pk}/{path}").status_code in (403, 405)
    assert (
        client.post("/console/webhooks/", {"url": "http://127.0.0.1:9/", "event_types": ["*"]}).status_code
        == 403
    )
    assert WebhookEndpoint.objects.count() == 1 and not actions(action__startswith="webhook.")


def test_create_shows_the_secret_once_and_events_are_signed_with_it(console, receiver, allow_private):
    page = console.get("/console/webhooks/")
    assert page.status_code == 200 and "No endpoints." in page.content.decode()
    assert "user.erased" in page.content.decode()

    r = _create(console, receiver.url, ("user.created", "webhook.test"), description="CRM sync")
    assert r.status_code == 400  # webhook.test is not a subscribable type
    assert not WebhookEndpoint.objects.exists()

    r = _create(console, receiver.url, ("user.created", "user.erased"), description="CRM sync")
    assert r.status_code == 201, r.content
    secret = SECRET.search(r.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.description, endpoint.event_types, endpoint.enabled) == (
        receiver.url,
        "CRM sync",
        ["user.created", "user.erased"],
        True,
    )
    # Stored encrypted only; never shown again.
    assert secret not in endpoint.secret_encrypted and signing.decrypt(endpoint.secret_encrypted) == secret
    again = console.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
    assert secret not in again and "secret-value" not in again
    assert r["Cache-Control"].startswith("max-age=0") or "no-store" in r["Cache-Control"]
    created = AuditEvent.objects.get(action="webhook.endpoint_created")
    assert created.actor_type == "staff" and created.details["event_types"] == ["user.created", "user.erased"]
    # The query string (a receiver's token) is not kept in the audit log.
    assert created.details["url"] == receiver.url.split("?")[0]

    # "Send test event": signed with the secret shown.
    r = on_commit(
        lambda: console.post(
            f"/console/webhooks/{endpoint.pk}/test/",
            headers={"HX-Request": "true", "HX-Target": "deliveries"},
        )
    )
    assert r.status_code == 200 and 'id="deliveries"' in r.content.decode()
    [request] = receiver.requests()
    payload = verify(secret, request)
    assert payload["type"] == "webhook.test" and payload["data"] == {"endpoint_id": str(endpoint.pk)}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    assert actions(action__startswith="webhook.") == ["webhook.endpoint_created", "webhook.test_sent"]

    # The deliveries table shows status, attempts, response code and latency.
    text = console.get(f"/console/webhooks/{endpoint.pk}/").content.decode()
    row = text.split(f'id="delivery-{delivery.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "delivered" in row and "<td>1</td>" in row and "<td>200</td>" in row
    assert f"{delivery.last_latency_ms} ms" in row


def test_edit_rotate_and_delete(console, receiver, allow_private, time_machine):
    secret_page = _create(console, receiver.url)
    old = SECRET.search(secret_page.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get()

    r = console.post(
        f"/console/webhooks/{endpoint.pk}/edit/",
        {"url": receiver.url, "event_types": ["user.deleted", "user.erased"], "description": "erasures"},
    )
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["user.deleted", "user.erased"] and not endpoint.enabled
    updated = AuditEvent.objects.get(action="webhook.endpoint_updated")
    assert updated.details["fields"] == ["description", "enabled", "event_types"]
    assert updated.details["enabled"] is False

    # Saving the same values changes nothing and writes no event.
    console.post(
        f"/console/webhooks/{endpoint.pk}/edit/",
        {"url": receiver.url, "event_types": ["user.deleted", "user.erased"], "description": "erasures"},
    )
    assert actions(action="webhook.endpoint_updated") == ["webhook.endpoint_updated"]

    # Rotation with a grace period: both secrets sign the test event; after the grace only the new one.
    r = console.post(f"/console/webhooks/{endpoint.pk}/rotate/", {"grace_hours": "2"})
    assert r.status_code == 200
    new = SECRET.search(r.content.decode()).group(1)
    assert new != old
    on_commit(lambda: console.post(f"/console/webhooks/{endpoint.pk}/test/"))
    during = receiver.take()[-1]
    assert len(during["headers"]["webhook-signature"].split(" ")) == 2
    assert verify(old, during) == verify(new, during)
    rotated = AuditEvent.objects.get(action="webhook.secret_rotated")
    assert rotated.details["grace_hours"] == 2.0 and rotated.details["previous_valid_until"]

    time_machine.move_to(timezone.now() + timedelta(hours=2, seconds=1))
    on_commit(lambda: console.post(f"/console/webhooks/{endpoint.pk}/test/"))
    after = receiver.take()[-1]
    assert len(after["headers"]["webhook-signature"].split(" ")) == 1
    verify(new, after)
    with pytest.raises(WebhookVerificationError):
        verify(old, after)

    r = console.post(f"/console/webhooks/{endpoint.pk}/delete/")
    assert r.status_code == 302 and r["Location"] == "/console/webhooks/"
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert actions(action__startswith="webhook.endpoint_") == [
        "webhook.endpoint_created",
        "webhook.endpoint_updated",
        "webhook.endpoint_deleted",
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"url": "", "event_types": ["*"]},
        {"url": "http://127.0.0.1:9/", "event_types": []},
        {"url": "http://127.0.0.1:9/", "event_types": ["user.nope"]},
        {"url": "gopher://127.0.0.1:9/", "event_types": ["*"]},
        {"url": "http://127.0.0.1:9/", "event_types": ["*"], "description": "x" * 201},
        {"url": "x" * 2001, "event_types": ["*"]},
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(console, allow_private, data):
    r = console.post("/console/webhooks/", data)
    assert r.status_code == 400 and "Please correct the input." in r.content.decode()
    assert not WebhookEndpoint.objects.exists() and not actions(action__startswith="webhook.")


def test_a_private_url_is_refused_in_the_console(console):
    r = _create(console, "http://127.0.0.1:9/hook")
    assert r.status_code == 400 and "non-public address" in r.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_bad_ids_and_bad_edits(console, allow_private, settings):
    _create(console, "http://127.0.0.1:9/")
    endpoint = WebhookEndpoint.objects.get()
    other = WebhookEndpoint.objects.create(url="http://127.0.0.1:8/", event_types=["*"], secret_encrypted="x")
    assert console.get("/console/webhooks/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert console.get("/console/webhooks/not-a-uuid/").status_code == 404
    assert console.get(f"/console/webhooks/{endpoint.pk}/edit/").status_code == 405
    assert console.get(f"/console/webhooks/{endpoint.pk}/?status=bogus&page=-1").status_code == 200
    on_commit(lambda: console.post(f"/console/webhooks/{endpoint.pk}/test/"))
    delivery = WebhookDelivery.objects.get()
    # A delivery is replayed only under its own endpoint.
    assert console.post(f"/console/webhooks/{other.pk}/deliveries/{delivery.pk}/replay/").status_code == 404
    assert console.post(f"/console/webhooks/{endpoint.pk}/deliveries/999999/replay/").status_code == 404

    before = (endpoint.url, endpoint.event_types, endpoint.secret_encrypted)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    for data in ({"url": "http://10.0.0.1/", "event_types": ["*"]}, {"url": "", "event_types": ["*"]}):
        r = console.post(f"/console/webhooks/{endpoint.pk}/edit/", data)
        assert r.status_code == 400 and "Please correct the input." in r.content.decode()
    for grace in ("-1", "abc", "100000", ""):
        assert (
            console.post(f"/console/webhooks/{endpoint.pk}/rotate/", {"grace_hours": grace}).status_code
            == 400
        )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.event_types, endpoint.secret_encrypted) == before
    assert not actions(action__in=["webhook.endpoint_updated", "webhook.secret_rotated"])


def test_posts_need_the_csrf_token(manager, allow_private):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    r = client.post("/console/webhooks/", {"url": "http://127.0.0.1:9/", "event_types": ["*"]})
    assert r.status_code == 403 and not WebhookEndpoint.objects.exists()


def test_nav_link_for_managers(console):
    assert 'href="/console/webhooks/"' in console.get("/console/users/").content.decode()


def test_list_and_the_deliveries_partial(console, allow_private):
    _create(console, "http://127.0.0.1:9/", description="billing")
    endpoint = WebhookEndpoint.objects.get()
    listed = console.get("/console/webhooks/").content.decode()
    assert (
        f'href="/console/webhooks/{endpoint.pk}/"' in listed and "billing" in listed and "enabled" in listed
    )
    partial = console.get(
        f"/console/webhooks/{endpoint.pk}/?status=pending",
        headers={"HX-Request": "true", "HX-Target": "deliveries"},
    ).content.decode()
    assert partial.lstrip().startswith('<section id="deliveries">') and "No deliveries." in partial
