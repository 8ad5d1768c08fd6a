"""Transitions, leases and task queueing shared by the gdpr services."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from core import outbox
from gdpr.models import DataRequest, DataRequestEvent, RequestStatus

JOB_TOPIC = "gdpr.job_requested"


class LeaseLost(Exception):
    """The job's lease was taken over (it ran past it and the sweeper re-enqueued the request)."""


def lease_delta() -> timedelta:
    return timedelta(seconds=settings.GDPR_LEASE_SECONDS)


def transition(
    data_request: DataRequest, to: str, *, actor: Any = None, note: str = "", **fields: Any
) -> DataRequest:
    """Move a (locked) request to a new status, saving the listed fields and a history row."""
    now = timezone.now()
    previous = data_request.status
    data_request.status = to
    data_request.updated_at = now
    for name, value in fields.items():
        setattr(data_request, name, value)
    data_request.save(update_fields=["status", "updated_at", *fields])
    DataRequestEvent.objects.create(
        request=data_request,
        created_at=now,
        from_status=previous,
        to_status=to,
        actor_id=getattr(actor, "pk", None),
        note=note[:500],
    )
    return data_request


def claimable(data_request_type: str) -> Q:
    """Rows a job may take: waiting ones, or running ones whose job let its lease run out."""
    now = timezone.now()
    running_lost = Q(status=RequestStatus.RUNNING, lease_until__lt=now)
    if data_request_type == "export":
        return Q(type="export") & (Q(status=RequestStatus.PENDING) | running_lost)
    return Q(type="erasure") & (Q(status=RequestStatus.APPROVED, scheduled_for__lte=now) | running_lost)


def claim(data_request_id: uuid.UUID, data_request_type: str) -> DataRequest | None:
    """Take the request for this job, or None if another job holds it or it is not due. SKIP LOCKED on
    PostgreSQL, the IMMEDIATE write lock on SQLite: of concurrent claims exactly one wins."""
    with transaction.atomic():
        data_request = (
            DataRequest.objects.select_for_update(skip_locked=True)
            .filter(claimable(data_request_type), pk=data_request_id)
            .first()
        )
        if data_request is None:
            return None
        transition(
            data_request,
            RequestStatus.RUNNING,
            note="retry" if data_request.status == RequestStatus.RUNNING else "",
            lease_owner=secrets.token_hex(8),
            lease_until=timezone.now() + lease_delta(),
            attempts=data_request.attempts + 1,
        )
        audit.record(
            f"gdpr.{data_request.type}_started",
            subject=data_request.user_id,
            details={"request_id": str(data_request.pk), "attempt": data_request.attempts},
        )
    return data_request


def lease_renew(data_request: DataRequest, *, progress: int) -> None:
    now = timezone.now()
    renewed = DataRequest.objects.filter(
        pk=data_request.pk, status=RequestStatus.RUNNING, lease_owner=data_request.lease_owner
    ).update(lease_until=now + lease_delta(), progress=progress, updated_at=now)
    if not renewed:
        raise LeaseLost()
    data_request.progress = progress


def lock_if_still_ours(data_request: DataRequest) -> DataRequest | None:
    """Inside a transaction: the locked row if this job still holds its lease."""
    return (
        DataRequest.objects.select_for_update()
        .filter(pk=data_request.pk, status=RequestStatus.RUNNING, lease_owner=data_request.lease_owner)
        .first()
    )


def enqueue(data_request: DataRequest) -> None:
    """Owe the job of a request, in the caller's transaction (gdpr.handlers queues it after the commit)."""
    outbox.publish(
        JOB_TOPIC,
        {"request_id": str(data_request.pk), "type": data_request.type},
        subject_id=data_request.user_id,
    )
