"""`manage.py webhooks …`: the operator's door."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import actions
from tests.integrations.conftest import add_endpoint, on_commit, verify

pytestmark = pytest.mark.usefixtures("allow_private")


def run(*args: str) -> str:
    out = io.StringIO()
    on_commit(lambda: call_command("webhooks", *args, stdout=out))
    return out.getvalue()


def test_the_whole_command(db, receiver):
    hook = add_endpoint(receiver.url, "user.created", "user.deleted")
    pk = str(hook.endpoint.pk)
    assert hook.secret.startswith("whsec_") and hook.secret not in hook.endpoint.secret_encrypted
    listed = run("list")
    assert pk in listed and "enabled" in listed and "user.created,user.deleted" in listed

    run("update", pk, "--events", "*", "--description", "all of it")
    hook.endpoint.refresh_from_db()
    assert hook.endpoint.event_types == ["*"] and hook.endpoint.description == "all of it"
    run("disable", pk)
    assert "disabled" in run("list")
    run("enable", pk)

    out = run("test", pk)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event.webhook_id in out and delivery.status == "delivered"
    assert verify(hook.secret, receiver.take()[0])["type"] == "webhook.test"
    shown = run("deliveries", pk)
    assert f"{delivery.pk}  delivered" in shown and "code=200" in shown and "attempts=1" in shown
    assert run("deliveries", pk, "--status", "failed") == ""

    run("replay", str(delivery.pk))
    assert [r["headers"]["webhook-id"] for r in receiver.take()] == [delivery.event.webhook_id]

    out = run("rotate-secret", pk, "--grace-hours", "0")
    new = out.split("New signing secret (shown once): ", 1)[1].split()[0]
    assert "previous secret" not in out
    run("test", pk)
    request = receiver.take()[0]
    assert len(request["headers"]["webhook-signature"].split()) == 1
    verify(new, request)

    run("remove", pk)
    assert not WebhookEndpoint.objects.exists()
    assert actions(action__startswith="webhook.") == [
        "webhook.endpoint_created",
        "webhook.endpoint_updated",
        "webhook.endpoint_updated",
        "webhook.endpoint_updated",
        "webhook.test_sent",
        "webhook.delivery_replayed",
        "webhook.secret_rotated",
        "webhook.test_sent",
        "webhook.endpoint_deleted",
    ]
    assert set(
        AuditEvent.objects.filter(action__startswith="webhook.").values_list("actor_type", flat=True)
    ) == {"system"}


@pytest.mark.parametrize(
    "args, message",
    [
        (("add", "http://127.0.0.1:9/", "--events", "user.nope"), "Unknown event types"),
        (("add", "http://127.0.0.1:9/", "--events", ","), "at least one event type"),
        (("remove", "00000000-0000-0000-0000-000000000000"), "No webhook endpoint"),
        (("replay", "424242"), "No webhook delivery"),
    ],
)
def test_bad_input_is_an_error_and_changes_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not WebhookEndpoint.objects.exists() and not actions(action__startswith="webhook.")


def test_rotate_refuses_a_bad_grace_period(db):
    endpoint_id = str(add_endpoint("http://127.0.0.1:9/", "*").endpoint.pk)
    before = WebhookEndpoint.objects.get().secret_encrypted
    with pytest.raises(CommandError, match="grace period"):
        run("rotate-secret", endpoint_id, "--grace-hours", "-3")
    assert WebhookEndpoint.objects.get().secret_encrypted == before


def test_malformed_arguments_are_rejected_by_the_parser(db):
    for args in (("remove", "not-a-uuid"), ("replay", "x"), ("frobnicate",)):
        with pytest.raises(CommandError):
            call_command("webhooks", *args)
