"""Retention jobs outside exports: ended sessions and old audit events."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Session
from audit import services as audit
from audit.models import AuditEvent


def sessions_purge(*, dry_run: bool = False) -> int:
    """Delete sessions that ended (revoked or expired) more than SESSION_RETENTION_DAYS ago."""
    cutoff = timezone.now() - timedelta(days=settings.SESSION_RETENTION_DAYS)
    ended = Session.objects.filter(Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff))
    if dry_run:
        return ended.count()
    with transaction.atomic():
        count, _ = ended.delete()
        if count:
            audit.record("retention.sessions_purged", details={"count": count, "cutoff": cutoff.isoformat()})
    return count


def audit_retention(*, dry_run: bool = False) -> int:
    """Delete audit events older than AUDIT_RETENTION_DAYS (0 keeps everything). The one deletion of audit
    events: a queryset delete (AuditEvent.delete() on an instance refuses on purpose)."""
    if settings.AUDIT_RETENTION_DAYS <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    old = AuditEvent.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return old.count()
    with transaction.atomic():
        count, _ = old.delete()
        if count:
            audit.record("retention.audit_purged", details={"count": count, "cutoff": cutoff.isoformat()})
    return count
