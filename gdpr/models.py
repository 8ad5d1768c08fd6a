from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RequestType(models.TextChoices):
    EXPORT = "export"
    ERASURE = "erasure"


class RequestStatus(models.TextChoices):
    PENDING = "pending"  # export queued
    AWAITING_APPROVAL = "awaiting_approval"  # erasure waits for staff
    APPROVED = "approved"  # erasure approved, in its grace period until scheduled_for
    RUNNING = "running"  # a job holds the lease
    READY = "ready"  # export file downloadable
    COMPLETED = "completed"  # erasure done
    EXPIRED = "expired"  # export file deleted after expiry
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# A user has at most one request per type in one of these states (enforced by a partial unique index).
OPEN_STATUSES = (
    RequestStatus.PENDING,
    RequestStatus.AWAITING_APPROVAL,
    RequestStatus.APPROVED,
    RequestStatus.RUNNING,
)


class DataRequest(models.Model):
    """One export or erasure request. The row is the truth: jobs claim it with a lease before working."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="data_requests")
    type = models.CharField(max_length=16, choices=RequestType.choices)
    status = models.CharField(max_length=24, choices=RequestStatus.choices)
    source = models.CharField(max_length=32, default="api")
    progress = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Erasure: who decided, and when the grace period ends.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    # Lease of the job working on it (huey delivers at most once; the sweeper re-enqueues past the lease).
    lease_owner = models.CharField(max_length=32, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")
    # The hash of the download token of a purged export, so its link answers 410 rather than 404.
    expired_token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-created_at", "id"]
        permissions = [("approve_erasure", "Can approve or reject erasure requests")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "type"],
                condition=Q(status__in=OPEN_STATUSES),
                name="gdpr_one_open_request_per_type",
            )
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="gdpr_request_user_idx"),
            models.Index(fields=["status", "type"], name="gdpr_request_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} request {self.id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class DataRequestEvent(models.Model):
    """Status history of a request (one row per transition)."""

    id = models.BigAutoField(primary_key=True)
    request = models.ForeignKey(DataRequest, on_delete=models.CASCADE, related_name="history")
    created_at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24)
    actor_id = models.UUIDField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"


class ExportFile(models.Model):
    """The built ZIP of an export request. Only the download token's hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.OneToOneField(DataRequest, on_delete=models.CASCADE, related_name="export_file")
    storage_path = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    # The token is HMAC(server key, id | salt); see gdpr.services.exports.export_token.
    token_salt = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    downloads_left = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="gdpr_export_expiry_idx")]

    def __str__(self) -> str:
        return f"export file {self.id}"


class ConsentRecord(models.Model):
    """Append-only consent ledger; the latest record per purpose is the current state. Erasure blanks the IP
    with a queryset update (the one sanctioned change), never through save()."""

    class Source(models.TextChoices):
        API = "api"
        CONSOLE = "console"
        IMPORT = "import"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents")
    purpose = models.CharField(max_length=64)
    granted = models.BooleanField()
    policy_version = models.CharField(max_length=32)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "purpose", "-id"], name="gdpr_consent_user_idx")]

    def __str__(self) -> str:
        return f"{self.purpose}={'yes' if self.granted else 'no'} ({self.policy_version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RuntimeError("Consent records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Consent records are append-only.")
