from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after OUTBOX_MAX_ATTEMPTS; an operator may retry it


class OutboxMessage(models.Model):
    """One side effect (a mail, a job to queue, another app's reaction) owed by a committed change.

    Written in the same transaction as the change (core.outbox.publish), so the change and the promise of
    its effect commit or roll back together. The relay delivers each row at least once; its handler is
    idempotent by the row's id, so the effect happens once. `available_at` is both the backoff (a failed
    row waits until then) and the lease (a relay that claimed a row holds it until then)."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    topic = models.CharField(max_length=64)
    # The registered handler this row is for: a topic with several handlers fans out into one row each.
    handler = models.CharField(max_length=128)
    payload = models.JSONField(default=dict, blank=True)
    # Where the change came from (ip, user agent, request id), bound again while the handler runs.
    context = models.JSONField(default=dict, blank=True)
    # The user the effect is about, if any (lets erasure find undelivered rows that carry their data).
    subject_id = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    available_at = models.DateTimeField(default=timezone.now)
    lease_owner = models.CharField(max_length=32, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        permissions = [("retry_outbox", "Can retry failed outbox deliveries")]
        indexes = [
            # The relay's scan: pending rows that are due, oldest first.
            models.Index(
                fields=["available_at", "id"],
                condition=models.Q(status="pending"),
                name="core_outbox_due_idx",
            ),
            models.Index(fields=["status", "-id"], name="core_outbox_status_idx"),
            models.Index(fields=["subject_id"], name="core_outbox_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.id} {self.topic} → {self.handler} ({self.status})"
