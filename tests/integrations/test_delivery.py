"""Retries with backoff, dead letters, replays, timeouts, redirects and the response cap, against real
receiver processes; huey runs inline and time is moved forward for the backoff."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts.models import User
from audit.models import AuditEvent
from integrations import tasks
from integrations.models import WebhookDelivery
from tests.integrations.conftest import add_endpoint, on_commit, verify

pytestmark = pytest.mark.usefixtures("allow_private")


@pytest.fixture
def fast(settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 60
    settings.WEBHOOKS_BACKOFF_MAX_SECONDS = 600
    settings.WEBHOOKS_MAX_AGE_SECONDS = 3600


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


def _event(api, login):
    """One consent change through the API: one consent.changed event."""
    r = api.call("put", "/me/consents/marketing_email", {"granted": True}, token=login()["access"])
    assert r.status_code == 200, r.content


def _sweep() -> None:
    """The periodic task that queues due deliveries (huey runs it inline in the tests)."""
    tasks.webhook_deliveries_requeue()


def test_500_then_200_is_retried_with_backoff_and_the_same_webhook_id(
    api, user, login, receiver_factory, fast, time_machine
):
    receiver = receiver_factory("--fail-first", "2")
    hook = add_endpoint(receiver.url, "consent.changed")
    time_machine.move_to(timezone.now(), tick=False)
    _event(api, login)

    delivery = WebhookDelivery.objects.get()
    first_at = delivery.last_attempt_at
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error.startswith("HTTP 500")
    first_delay = (delivery.next_attempt_at - first_at).total_seconds()
    assert 30 <= first_delay <= 60  # base 60 s: half fixed, half jitter

    # Not due yet: the sweeper leaves it alone.
    time_machine.move_to(delivery.next_attempt_at - timedelta(seconds=1), tick=False)
    _sweep()
    assert len(receiver.requests()) == 1

    time_machine.move_to(delivery.next_attempt_at, tick=False)
    _sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 500)
    second_delay = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 60 <= second_delay <= 120  # doubled

    time_machine.move_to(delivery.next_attempt_at, tick=False)
    _sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.last_error == "" and delivery.delivered_at is not None

    requests = receiver.requests()
    assert len(requests) == 3
    assert {r["headers"]["webhook-id"] for r in requests} == {delivery.event.webhook_id}
    stamps = [int(r["headers"]["webhook-timestamp"]) for r in requests]
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]  # each attempt is signed at its own time
    assert verify(hook.secret, requests[-1])["type"] == "consent.changed"
    # The payload is the same on every attempt.
    assert len({r["body"] for r in requests}) == 1

    # Once delivered, neither the sweeper nor a duplicate task sends it again.
    time_machine.shift(timedelta(hours=1))
    _sweep()
    tasks.webhook_deliver(delivery.pk)
    assert len(receiver.requests()) == 3


def test_receiver_down_past_the_maximum_age_is_dead_lettered_shown_and_replayed(
    api, user, login, receiver_factory, fast, console, time_machine
):
    receiver = receiver_factory()
    port = receiver.port
    hook = add_endpoint(receiver.url, "*")
    receiver.stop()
    time_machine.move_to(timezone.now(), tick=False)
    _event(api, login)

    delivery = WebhookDelivery.objects.get()
    deadline = delivery.scheduled_at + timedelta(seconds=3600)
    for _ in range(50):
        delivery.refresh_from_db()
        if delivery.status != "pending":
            break
        assert delivery.next_attempt_at <= deadline  # the last try is at the maximum age, not after it
        time_machine.move_to(delivery.next_attempt_at, tick=False)
        _sweep()
    assert delivery.status == "failed"
    assert delivery.last_status_code is None and "Connection refused" in delivery.last_error
    assert delivery.last_attempt_at == deadline
    # Backoff waits between half and all of min(600, 60 * 2**(n-1)) s: the fastest schedule tries 16 times
    # within the hour (0, 30, 90, 210, 450, then every 300 s, the last at the deadline), the slowest 10.
    assert 10 <= delivery.attempts <= 16

    # The console shows the dead letter, with its attempts and error.
    page = console.get(f"/console/webhooks/{hook.endpoint.pk}/?status=failed")
    assert page.status_code == 200
    text = page.content.decode()
    assert f'id="delivery-{delivery.pk}"' in text and "badge bad" in text
    assert delivery.event.webhook_id in text and "Connection refused" in text
    assert f"<td>{delivery.attempts}</td>" in text
    assert "failed (dead letter) 1" in text

    # The receiver is back; staff replay the delivery from the console: the same webhook-id arrives.
    revived = receiver_factory(port=port)
    r = on_commit(
        lambda: console.post(f"/console/webhooks/{hook.endpoint.pk}/deliveries/{delivery.pk}/replay/")
    )
    assert r.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts > 5 and delivery.last_status_code == 200
    [request] = revived.requests()
    assert request["headers"]["webhook-id"] == delivery.event.webhook_id
    assert verify(hook.secret, request)["id"] == delivery.event.webhook_id
    replayed = AuditEvent.objects.get(action="webhook.delivery_replayed")
    assert replayed.actor_type == "staff"
    assert replayed.details["webhook_id"] == delivery.event.webhook_id

    # Replaying a delivered one sends it once more, still under the same id (receivers dedupe by it).
    r = on_commit(
        lambda: console.post(
            f"/console/webhooks/{hook.endpoint.pk}/deliveries/{delivery.pk}/replay/",
            headers={"HX-Request": "true"},
        )
    )
    assert (
        r.status_code == 200 and 'id="deliveries"' in r.content.decode() and "<html" not in r.content.decode()
    )
    assert [q["headers"]["webhook-id"] for q in revived.requests()] == [delivery.event.webhook_id] * 2


def test_a_receiver_back_before_the_maximum_age_gets_the_event(
    api, user, login, receiver_factory, fast, time_machine
):
    receiver = receiver_factory()
    port = receiver.port
    add_endpoint(receiver.url, "*")
    receiver.stop()
    time_machine.move_to(timezone.now(), tick=False)
    _event(api, login)
    delivery = WebhookDelivery.objects.get()
    time_machine.move_to(delivery.next_attempt_at, tick=False)
    _sweep()
    revived = receiver_factory(port=port)
    delivery.refresh_from_db()
    time_machine.move_to(delivery.next_attempt_at, tick=False)
    _sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(revived.requests()) == 1


def test_an_attempt_left_by_a_dead_worker_is_taken_again_after_its_lease(
    api, user, login, receiver, time_machine
):
    add_endpoint(receiver.url, "*")
    time_machine.move_to(timezone.now(), tick=False)
    _event(api, login)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered"
    # The state a worker that died mid-attempt leaves: claimed (leased for its timeouts plus a margin),
    # never recorded.
    lease_until = timezone.now() + timedelta(seconds=43)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="pending", next_attempt_at=lease_until, lease_owner="deadbeef", delivered_at=None
    )
    _sweep()
    assert len(receiver.requests()) == 1  # still leased
    time_machine.move_to(lease_until, tick=False)
    _sweep()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.lease_owner == ""
    assert len(receiver.requests()) == 2


def test_redirects_are_not_followed(api, user, login, receiver_factory):
    receiver = receiver_factory("--status", "302")
    add_endpoint(receiver.url, "*")
    _event(api, login)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert delivery.last_error.startswith("HTTP 302")
    assert len(receiver.requests()) == 1


def test_a_slow_receiver_times_out(api, user, login, receiver_factory, settings):
    settings.WEBHOOKS_READ_TIMEOUT_SECONDS = 0.5
    receiver = receiver_factory("--sleep", "3")
    add_endpoint(receiver.url, "*")
    started = time.monotonic()
    _event(api, login)
    assert time.monotonic() - started < 2.5
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "timed out" in delivery.last_error
    assert 400 <= delivery.last_latency_ms < 2000


def test_a_huge_answer_is_read_only_up_to_the_cap(api, user, login, receiver_factory, settings):
    settings.WEBHOOKS_MAX_RESPONSE_BYTES = 1024
    receiver = receiver_factory("--body-bytes", str(200 * 1024 * 1024))
    add_endpoint(receiver.url, "*")
    started = time.monotonic()
    _event(api, login)
    assert time.monotonic() - started < 5  # 200 MB were not read
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.last_status_code == 200


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


def test_tls_certificates_are_verified(api, user, login, receiver_factory, tmp_path):
    receiver = receiver_factory("--tls", *_self_signed(tmp_path))
    add_endpoint(f"https://127.0.0.1:{receiver.port}/hooks", "*")
    _event(api, login)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert receiver.requests() == []


def test_the_sweeper_runs_every_minute_and_retention_daily():
    def due(when):
        return {task.name for task in HUEY.read_periodic(when)}

    assert "webhook_deliveries_requeue" in due(dt.datetime(2026, 1, 1, 12, 34))
    assert "webhook_retention" not in due(dt.datetime(2026, 1, 1, 12, 34))
    assert "webhook_retention" in due(dt.datetime(2026, 1, 1, 4, 23))
