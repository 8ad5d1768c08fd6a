"""SSRF: webhook URLs that reach loopback, private or other non-public addresses are refused when an endpoint
is saved and again before every attempt (WEBHOOKS_ALLOW_PRIVATE is off here, as in production)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from integrations import errors, services, transport
from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.integrations.conftest import add_endpoint

REFUSED = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/hook",  # shared address space
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
]
MALFORMED = [
    "",
    "ftp://93.184.215.14/hook",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://user:secret@93.184.215.14/hook",
    "https://93.184.215.14/hook#part",
    "https:///hook",
    "https://93.184.215.14:99999/hook",
    "https://93.184.215.14/ho ok",
    "https://93.184.215.14/caf\u00e9",
    "https://93.184.215.14/a\x00b",
    "https://93.184.215.14/a\r\nX-Injected: 1",
    "https://93.184.215.14/" + "a" * 2000,
    "https://no-such-host.invalid/hook",
]


@pytest.mark.parametrize("url", REFUSED + MALFORMED)
def test_refused_urls_create_nothing(db, url):
    with pytest.raises(errors.InvalidEndpoint) as refused:
        services.endpoint_create(actor=None, url=url, event_types=["*"])
    assert refused.value.status == 422 and refused.value.code == "validation_error"
    assert list(refused.value.details["fields"]) == ["url"]
    assert not WebhookEndpoint.objects.exists() and not AuditEvent.objects.exists()


def test_the_command_refuses_a_private_url(db):
    with pytest.raises(CommandError, match="non-public address"):
        call_command("webhooks", "add", "http://192.168.0.10/hook", "--events", "*", stdout=io.StringIO())
    assert not WebhookEndpoint.objects.exists()


def test_a_public_address_is_accepted(db):
    endpoint, _ = services.endpoint_create(actor=None, url="https://93.184.215.14/hook", event_types=["*"])
    assert endpoint.url == "https://93.184.215.14/hook"
    with pytest.raises(errors.InvalidEndpoint):
        services.endpoint_update(endpoint=endpoint, actor=None, url="http://10.0.0.1/")
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.215.14/hook"


def test_private_addresses_are_allowed_only_with_the_setting(db, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    assert transport.url_resolve("http://10.1.2.3:8080/x?y=1").addresses == ("10.1.2.3",)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(transport.UrlRefused):
        transport.url_resolve("http://10.1.2.3:8080/x?y=1")


def test_every_attempt_checks_again(api, user, login, receiver_factory, settings):
    """An endpoint saved while allowed (or whose host later resolves elsewhere) is refused at delivery time,
    and nothing reaches the address."""
    receiver = receiver_factory()
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    add_endpoint(f"http://localhost:{receiver.port}/hook", "*")
    settings.WEBHOOKS_ALLOW_PRIVATE = False

    r = api.call("put", "/me/consents/marketing_email", {"granted": True}, token=login()["access"])
    assert r.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error.startswith("refused:") and "non-public" in delivery.last_error
    assert receiver.requests() == []
