"""Fan-out of events to endpoints, delivery attempts with backoff, replays, test events, retention.

A delivery is attempted by a huey task (integrations.tasks.webhook_deliver) that claims it: the claim is an
UPDATE that only matches a pending, due row and moves `next_attempt_at` past the attempt's longest possible
duration, so a duplicate task (the sweeper and a scheduled retry both queued it) finds nothing to do. A
non-2xx answer or a transport error schedules the next attempt with exponential backoff and jitter; once
the delivery is older than WEBHOOKS_MAX_AGE_SECONDS it is dead-lettered (`failed`). Receivers see the same
`webhook-id` on every attempt and replay.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit import services as audit
from core import outbox
from integrations import events, signing, transport
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.services.endpoints import permission_check

logger = logging.getLogger(__name__)

# Published by a replay or a test event; integrations.handlers queues the delivery task.
DELIVERY_TOPIC = "integrations.delivery_due"
# Time a claimed attempt may take beyond its timeouts before another task may take the row over.
LEASE_MARGIN_SECONDS = 30


def _webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def event_body(event: WebhookEvent) -> str:
    """The JSON body every attempt sends (the Standard Webhooks shape: type, timestamp, data; plus the
    message id and the sequence number)."""
    timestamp = event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "id": event.webhook_id,
            "type": event.type,
            "timestamp": timestamp,
            "sequence": event.sequence,
            "data": event.data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def event_fan_out(*, message_id: int, payload: dict[str, Any]) -> list[int]:
    """The outbox handler's service: the event of one outbox row, with a delivery to every enabled endpoint
    that wants its type. Idempotent by the row's id (a repeat finds the event made the first time).
    Returns the ids of its pending deliveries."""
    with transaction.atomic():
        event = WebhookEvent.objects.filter(source_message_id=message_id).first()
        if event is None:
            event_type = str(payload["type"])
            endpoints = [
                e for e in WebhookEndpoint.objects.filter(enabled=True) if e.subscribes_to(event_type)
            ]
            if not endpoints:
                return []
            event = WebhookEvent.objects.create(
                webhook_id=_webhook_id(),
                type=event_type,
                occurred_at=datetime.fromisoformat(str(payload["occurred_at"])),
                data=payload["data"],
                source_message_id=message_id,
            )
            now = timezone.now()
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(event=event, endpoint=e, scheduled_at=now, next_attempt_at=now)
                    for e in endpoints
                ]
            )
    return list(
        WebhookDelivery.objects.filter(event=event, status=DeliveryStatus.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )


def backoff_seconds(attempts: int) -> float:
    """Exponential, capped, with jitter (half fixed, half random), so retries to one receiver spread out."""
    cap = min(
        float(settings.WEBHOOKS_BACKOFF_MAX_SECONDS),
        float(settings.WEBHOOKS_BACKOFF_BASE_SECONDS) * 2 ** max(0, attempts - 1),
    )
    return cap / 2 + random.uniform(0, cap / 2)


def _claim(delivery_id: int) -> tuple[WebhookDelivery, str] | None:
    now = timezone.now()
    owner = secrets.token_hex(8)
    lease = (
        float(settings.WEBHOOKS_CONNECT_TIMEOUT_SECONDS)
        + float(settings.WEBHOOKS_READ_TIMEOUT_SECONDS)
        + LEASE_MARGIN_SECONDS
    )
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=lease), lease_owner=owner)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id), owner


def _send(delivery: WebhookDelivery) -> transport.Outcome:
    endpoint, event = delivery.endpoint, delivery.event
    try:
        # Checked again before every attempt: the host's DNS answer may have changed since it was saved.
        target = transport.url_resolve(endpoint.url)
    except transport.UrlRefused as exc:
        return transport.Outcome(status_code=None, latency_ms=0, error=f"refused: {exc}"[:500])
    now = timezone.now()
    try:
        keys = signing.signing_secrets(endpoint, now=now)
    except signing.SecretUnreadable as exc:
        return transport.Outcome(status_code=None, latency_ms=0, error=str(exc))
    body = event_body(event)
    headers = signing.headers(secrets_=keys, webhook_id=event.webhook_id, timestamp=now, body=body)
    return transport.post(target, body=body.encode(), headers=headers)


def delivery_attempt(*, delivery_id: int) -> datetime | None:
    """The delivery task's service: one attempt if the delivery is pending and due (else nothing). Returns
    when the next attempt is due if this one failed and the delivery is not dead-lettered, else None."""
    claim = _claim(delivery_id)
    if claim is None:
        return None
    delivery, owner = claim
    outcome = _send(delivery)
    now = timezone.now()
    fields: dict[str, Any] = {
        "attempts": delivery.attempts + 1,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_latency_ms": outcome.latency_ms,
        "last_error": outcome.error,
        "lease_owner": "",
    }
    retry_at: datetime | None = None
    deadline = delivery.scheduled_at + timedelta(seconds=float(settings.WEBHOOKS_MAX_AGE_SECONDS))
    if outcome.ok:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=now)
    elif now >= deadline:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=now)
        logger.error(
            "webhooks: delivery #%s of %s to endpoint %s dead-lettered after %d attempts: %s",
            delivery.pk,
            delivery.event.webhook_id,
            delivery.endpoint_id,
            fields["attempts"],
            outcome.error,
        )
    else:
        # The last retry happens at the maximum age, so a receiver back in time still gets the event.
        retry_at = min(now + timedelta(seconds=backoff_seconds(fields["attempts"])), deadline)
        fields["next_attempt_at"] = retry_at
        logger.warning(
            "webhooks: delivery #%s attempt %d failed (%s); next at %s",
            delivery.pk,
            fields["attempts"],
            outcome.error,
            retry_at.isoformat(timespec="seconds"),
        )
    recorded = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, lease_owner=owner
    ).update(**fields)
    # Not recorded: a replay reset the row meanwhile; its own attempt reports.
    return retry_at if recorded else None


def deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose attempt is due (a retry whose scheduled task was lost included)."""
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def delivery_replay(*, delivery: WebhookDelivery, actor: User | None) -> WebhookDelivery:
    """Send a delivery again, now, with the same webhook-id (receivers that saw it dedupe it). It gets a
    fresh maximum age; its attempt count goes on."""
    permission_check(actor)
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            scheduled_at=now,
            next_attempt_at=now,
            lease_owner="",
            delivered_at=None,
        )
        audit.record(
            "webhook.delivery_replayed",
            actor=actor,
            details={
                "endpoint_id": str(delivery.endpoint_id),
                "delivery_id": delivery.pk,
                "webhook_id": delivery.event.webhook_id,
                "event_type": delivery.event.type,
            },
        )
        outbox.publish(DELIVERY_TOPIC, {"delivery_ids": [delivery.pk]})
    delivery.refresh_from_db()
    return delivery


def endpoint_test_send(*, endpoint: WebhookEndpoint, actor: User | None) -> WebhookDelivery:
    """A `webhook.test` event to this one endpoint (enabled or not: testing comes before enabling)."""
    permission_check(actor)
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            webhook_id=_webhook_id(),
            type=events.TEST_EVENT,
            occurred_at=timezone.now(),
            data={"endpoint_id": str(endpoint.pk)},
        )
        delivery = WebhookDelivery.objects.create(event=event, endpoint=endpoint)
        audit.record(
            "webhook.test_sent",
            actor=actor,
            details={
                "endpoint_id": str(endpoint.pk),
                "delivery_id": delivery.pk,
                "webhook_id": event.webhook_id,
            },
        )
        outbox.publish(DELIVERY_TOPIC, {"delivery_ids": [delivery.pk]})
    return delivery


def events_purge(*, dry_run: bool = False) -> int:
    """Delete events (with their deliveries) older than WEBHOOKS_RETENTION_DAYS that have nothing pending."""
    cutoff = timezone.now() - timedelta(days=int(settings.WEBHOOKS_RETENTION_DAYS))
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    if dry_run:
        return old.count()
    count, _ = WebhookEvent.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return count


def secrets_expire() -> int:
    """Drop previous secrets whose grace period has ended (they no longer sign anything)."""
    return WebhookEndpoint.objects.filter(previous_secret_expires_at__lte=timezone.now()).update(
        previous_secret_encrypted="", previous_secret_expires_at=None
    )
