"""All reads of the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, datetime

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate

from audit.models import ActorType, AuditEvent


def event_origin_visible(*, actor_type: str, actor_id: uuid.UUID | None, viewer_id: uuid.UUID) -> bool:
    """Whether `viewer` (a user reading their own trail or export) may see the IP address and user agent an
    event was recorded with. Not when a staff member other than the viewer acted, nor an admin API key (the
    automation of a staff member): where staff work from is theirs, and users see them only by kind."""
    if actor_type == ActorType.API_KEY:
        return False
    return not (actor_type == ActorType.STAFF and actor_id != viewer_id)


def event_origin_hidden_q(*, viewer_id: uuid.UUID) -> Q:
    """`event_origin_visible` as a database condition (true where the origin is hidden), for reads that let
    the database decide per row instead of loading every actor id into Python."""
    other_staff = Q(actor_type=ActorType.STAFF) & (Q(actor_id__isnull=True) | ~Q(actor_id=viewer_id))
    return Q(actor_type=ActorType.API_KEY) | other_staff


def events_for_subject(*, subject_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """One user's trail (the events about them), newest first. Shown to that user: apply
    `event_origin_visible` to each event's IP address and user agent."""
    return AuditEvent.objects.filter(subject_id=subject_id).order_by("-id")


def events_search(
    *,
    action: str = "",
    actor_id: uuid.UUID | None = None,
    subject_id: uuid.UUID | None = None,
    actor_ids: Collection[uuid.UUID] | None = None,
    subject_ids: Collection[uuid.UUID] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Newest first. An action ending in "." is a prefix ("session." = every session event). `actor_ids` /
    `subject_ids` match any of several ids (one person's live and deleted accounts)."""
    qs = AuditEvent.objects.all()
    if action:
        qs = qs.filter(action__startswith=action) if action.endswith(".") else qs.filter(action=action)
    if actor_id is not None:
        qs = qs.filter(actor_id=actor_id)
    if subject_id is not None:
        qs = qs.filter(subject_id=subject_id)
    if actor_ids is not None:
        qs = qs.filter(actor_id__in=list(actor_ids))
    if subject_ids is not None:
        qs = qs.filter(subject_id__in=list(subject_ids))
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-id")


def event_actions() -> list[str]:
    """The distinct actions seen, for filter suggestions (cached: a full distinct scan is not free)."""
    actions: list[str] | None = cache.get("audit:actions")
    if actions is None:
        actions = sorted(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())
        cache.set("audit:actions", actions, 300)
    return actions


def events_per_day(*, action: str, since: datetime) -> dict[date, int]:
    """How many `action` events happened on each UTC day from `since` on, in one grouped query (days without
    one are absent). Served by the (action, created_at) index, read without touching the table."""
    rows = (
        AuditEvent.objects.filter(action=action, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("*"))
        .order_by("day")
    )
    return {row["day"]: row["count"] for row in rows}
