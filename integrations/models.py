from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

# An endpoint listing this receives every event type, including types added later.
ALL_EVENTS = "*"


class WebhookEndpoint(models.Model):
    """A receiver of signed events. Its signing secret is stored encrypted (integrations.signing): HMAC
    signing needs the plaintext, so it cannot be hashed like a password; encryption under a key kept
    outside the database keeps a dump or a read-only SQL leak from yielding keys that forge events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    # Event type names, or [ALL_EVENTS].
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret_encrypted = models.TextField()
    # After a rotation the old secret signs too (a second signature) until it expires, so receivers can
    # switch over without rejecting events meanwhile.
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("manage_webhooks", "Can manage webhook endpoints and their deliveries")]

    def __str__(self) -> str:
        return f"webhook endpoint {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """One event as the receivers see it. `sequence` increases with every event created; `webhook_id` is
    the Standard Webhooks message id, the same on every attempt and replay (receivers dedupe by it)."""

    sequence = models.BigAutoField(primary_key=True)
    webhook_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    # Ids, types, flags and counts only: never secrets, never personal data (integrations.events).
    data = models.JSONField(default=dict)
    # The outbox row this event was made from: a repeated fan-out finds its event instead of a second one.
    source_message_id = models.BigIntegerField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["created_at"], name="integrations_event_created_idx")]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.type}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # dead letter: no 2xx within WEBHOOKS_MAX_AGE_SECONDS; staff may replay it


class WebhookDelivery(models.Model):
    """One event owed to one endpoint. `next_attempt_at` is both the backoff (a failed attempt waits until
    then) and the lease (an attempt in flight holds the row until then)."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # The maximum age counts from here: the first time it was due, or its last replay.
    scheduled_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=32, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # The status line or the transport error; never the response body (it may echo anything).
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="integrations_delivery_once"),
        ]
        indexes = [
            # The sweeper's scan: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="integrations_delivery_due_idx",
            ),
            models.Index(fields=["endpoint", "-id"], name="integrations_delivery_list_idx"),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.id} ({self.status})"
