"""Reads of the webhook tables."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def event_type_wanted(event_type: str) -> bool:
    """Whether any enabled endpoint subscribes to this type (a handful of rows: read them all)."""
    return any(
        endpoint.subscribes_to(event_type)
        for endpoint in WebhookEndpoint.objects.filter(enabled=True).only("event_types")
    )


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("created_at", "id")


def endpoint_get(*, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def deliveries_of(*, endpoint: WebhookEndpoint, status: str = "") -> QuerySet[WebhookDelivery]:
    """Newest first, with their events."""
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    return rows


def delivery_counts(*, endpoint: WebhookEndpoint) -> dict[str, int]:
    return {
        status: WebhookDelivery.objects.filter(endpoint=endpoint, status=status).count()
        for status in DeliveryStatus.values
    }
