"""All reads of the gdpr app (the API and the staff console call these)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from gdpr import errors
from gdpr.models import ConsentRecord, DataRequest, RequestStatus, RequestType


def data_requests_for_user(*, user: User) -> QuerySet[DataRequest]:
    return DataRequest.objects.filter(user=user).select_related("export_file").order_by("-created_at", "id")


def data_request_for_user(*, user: User, data_request_id: uuid.UUID) -> DataRequest:
    """The user's own request; someone else's id is 404 like an unknown one."""
    found = data_requests_for_user(user=user).filter(pk=data_request_id).first()
    if found is None:
        raise errors.RequestNotFound()
    return found


def erasure_queue() -> QuerySet[DataRequest]:
    """Erasure requests awaiting a staff decision, oldest first."""
    return erasure_requests(status=RequestStatus.AWAITING_APPROVAL)


def erasure_requests(*, status: str) -> QuerySet[DataRequest]:
    """Erasure requests in one status, oldest first (the admin API's list)."""
    return (
        DataRequest.objects.filter(type=RequestType.ERASURE, status=status)
        .select_related("user")
        .order_by("created_at", "id")
    )


def erasure_request(*, data_request_id: uuid.UUID) -> DataRequest:
    """An erasure request by id, for staff; any other id is 404."""
    found = DataRequest.objects.filter(pk=data_request_id, type=RequestType.ERASURE).first()
    if found is None:
        raise errors.RequestNotFound()
    return found


def erasures_scheduled() -> QuerySet[DataRequest]:
    """Approved erasures waiting out their grace period (cancellable until they run), soonest first."""
    return (
        DataRequest.objects.filter(type=RequestType.ERASURE, status=RequestStatus.APPROVED)
        .select_related("user", "decided_by")
        .order_by("scheduled_for", "id")
    )


def exports_failed() -> QuerySet[DataRequest]:
    """Export requests whose job gave up, newest first."""
    return (
        DataRequest.objects.filter(type=RequestType.EXPORT, status=RequestStatus.FAILED)
        .select_related("user")
        .order_by("-updated_at", "id")
    )


def export_requests() -> QuerySet[DataRequest]:
    """Export requests, newest first, with their file (if built)."""
    return (
        DataRequest.objects.filter(type=RequestType.EXPORT)
        .select_related("user", "export_file")
        .order_by("-created_at", "id")
    )


def consents_current(*, user: User) -> list[dict[str, Any]]:
    """One entry per configured purpose: the latest record's state, or not granted if none."""
    latest: dict[str, ConsentRecord] = {}
    for record in ConsentRecord.objects.filter(
        user=user, purpose__in=settings.GDPR_CONSENT_PURPOSES
    ).order_by("purpose", "-id"):
        latest.setdefault(record.purpose, record)
    result = []
    for purpose in settings.GDPR_CONSENT_PURPOSES:
        current = latest.get(purpose)
        result.append(
            {
                "purpose": purpose,
                "granted": bool(current and current.granted),
                "policy_version": current.policy_version if current else None,
                "current_policy_version": settings.GDPR_CONSENT_POLICY_VERSION,
                "updated_at": current.created_at if current else None,
            }
        )
    return result


def consent_history(*, user: User) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(user=user).order_by("-id")
