from __future__ import annotations

from django.db import models
from django.utils import timezone


class ActorType(models.TextChoices):
    USER = "user"
    STAFF = "staff"
    SYSTEM = "system"
    # An admin API key acting for its owner: actor_id is the key's id (adminapi.ApiKey).
    API_KEY = "api_key", "API key"


class AuditEvent(models.Model):
    """Append-only. Rows are written only by audit.services.record and removed only by the retention job."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)
    subject_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    # HMAC of this row's content, written with the row.
    row_hash = models.CharField(max_length=64, default="")
    # Set when erasure pseudonymised the row: the new content is sealed by redaction_hash (an HMAC over the
    # new content and the original row_hash), so the chain over the original row_hash still verifies.
    redacted_at = models.DateTimeField(null=True, blank=True)
    redaction_hash = models.CharField(max_length=64, blank=True, default="")
    # Chain links, filled by the sealing job in id order (off the request path, so no global lock there).
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subject_id", "-id"], name="audit_subject_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not getattr(self, "_sealing", False):
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Audit events are deleted only by the retention job.")


class ChainHead(models.Model):
    """Singleton (pk=1): the newest sealed link. Sealers lock this row, so two never interleave; verification
    compares it with the newest sealed event, which detects a truncated tail."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True, default="")
    sealed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_id}"
