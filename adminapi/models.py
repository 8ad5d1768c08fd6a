from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


def may_own_keys(user: Any) -> bool:
    """Keys belong to, and work only for, active and live superusers."""
    return bool(user.is_active and user.is_live and user.is_superuser)


class KeyStatus(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    # The owner is no longer an active, live superuser: the key does not work while that lasts.
    SUSPENDED = "suspended"


class ApiKey(models.Model):
    """A scoped key of the admin API. Only the SHA-256 hash of the key is stored (the key carries 256 random
    bits, so a fast hash is enough); the key itself is shown once, when it is created. `prefix` is the key's
    public first part, shown in lists and audit events to tell keys apart.

    The key acts as its owner, a superuser: it works while the owner is an active, live superuser, until it
    expires or is revoked, and only for the operations its scopes allow."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    # Written at most once a minute (adminapi.services.api_key_touch), to keep the request path cheap.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    def status_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at <= now:
            return KeyStatus.EXPIRED
        if not may_own_keys(self.owner):
            return KeyStatus.SUSPENDED
        return KeyStatus.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())
