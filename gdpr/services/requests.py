"""Opening, deciding on, cancelling and re-queueing data requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors as account_errors
from accounts import services as account_services
from accounts.models import User
from audit import services as audit
from core import mail
from core.errors import RateLimited
from gdpr import errors
from gdpr.models import OPEN_STATUSES, DataRequest, RequestStatus, RequestType
from gdpr.services.common import enqueue, lease_delta, transition

CANCELLABLE = (RequestStatus.PENDING, RequestStatus.AWAITING_APPROVAL, RequestStatus.APPROVED)


def _daily_limit_check(user: User) -> None:
    """The database rows are the truth: a limit that survives cache flushes and counts every door."""
    window = timedelta(days=1)
    since = timezone.now() - window
    recent = list(
        DataRequest.objects.filter(user=user, created_at__gt=since, source="api")
        .order_by("created_at")
        .values_list("created_at", flat=True)[: settings.GDPR_REQUESTS_PER_DAY]
    )
    if len(recent) >= settings.GDPR_REQUESTS_PER_DAY:
        retry_after = int((recent[0] + window - timezone.now()).total_seconds()) + 1
        raise RateLimited(retry_after, "You have made too many data requests today.")


def _open(*, user: User, actor: User | None, type: str, source: str) -> DataRequest:
    status = RequestStatus.PENDING if type == RequestType.EXPORT else RequestStatus.AWAITING_APPROVAL
    now = timezone.now()
    data_request = DataRequest.objects.create(
        user=user, type=type, status=status, source=source, created_at=now, updated_at=now
    )
    data_request.history.create(created_at=now, to_status=status, actor_id=getattr(actor, "pk", None))
    audit.record(
        f"gdpr.{type}_requested",
        actor=actor,
        subject=user,
        details={"request_id": str(data_request.pk), "source": source},
    )
    if type == RequestType.EXPORT:
        enqueue(data_request)
    else:
        mail.enqueue(
            template="gdpr/email/erasure_requested",
            to=user.email,
            subject_id=user.pk,
            context={"first_name": user.first_name, "grace_days": settings.GDPR_ERASURE_GRACE_DAYS},
        )
    return data_request


def data_request_create(*, user: User, actor: User, type: str) -> DataRequest:
    """Open an export or erasure request: one open request per type (409), a daily limit (429)."""
    if DataRequest.objects.filter(user=user, type=type, status__in=OPEN_STATUSES).exists():
        raise errors.RequestOpen()
    _daily_limit_check(user)
    try:
        with transaction.atomic():
            return _open(user=user, actor=actor, type=type, source="api")
    except IntegrityError:
        # A concurrent request won the partial unique index.
        raise errors.RequestOpen()


def export_request_for_user(*, user: User, actor: User, source: str) -> DataRequest:
    """Staff (an active staff member, or an admin API key acting as one) start an export on a user's behalf.
    The file and its link go to the user by mail as for their own request, never to the staff member. One
    open export per user (409); the user's own daily limit does not count it. A deleted account has no
    export to start (409 user_deleted): its data waits for erasure."""
    if not (actor.is_active and actor.is_staff):
        raise account_errors.StaffOnly(gettext("Only staff may start an export for another user."))
    if not user.is_live:
        raise errors.UserDeleted()
    already_open = errors.RequestOpen(gettext("This user already has an open export request."))
    if DataRequest.objects.filter(user=user, type=RequestType.EXPORT, status__in=OPEN_STATUSES).exists():
        raise already_open
    try:
        with transaction.atomic():
            return _open(user=user, actor=actor, type=RequestType.EXPORT, source=source)
    except IntegrityError:
        raise already_open


def erasure_open_for_deleted(*, user: User, actor: User | None) -> DataRequest:
    """The account was soft-deleted: open its erasure request (or return the open one). Idempotent."""
    existing = DataRequest.objects.filter(
        user=user, type=RequestType.ERASURE, status__in=OPEN_STATUSES
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _open(user=user, actor=actor, type=RequestType.ERASURE, source="account_deleted")
    except IntegrityError:
        return DataRequest.objects.get(user=user, type=RequestType.ERASURE, status__in=OPEN_STATUSES)


# Approving, rejecting and (for someone else's request) cancelling an erasure. Deciding about oneself is
# refused with its own code (SelfApproval), hence on_self here; the rank rule keeps an approver from
# erasing an account that holds permissions they lack.
ERASURE_DECIDE = account_services.StaffAction("erasure.decide", "gdpr.approve_erasure", on_self=True)


def _decider_check(data_request: DataRequest, actor: User) -> None:
    """Before the decision's transaction, so that a refusal's audit event is kept. Four eyes: the decider is
    neither the person the request is about nor the one who opened it."""
    account_services.staff_action_authorize(actor=actor, target=data_request.user, action=ERASURE_DECIDE)
    opened_by = data_request.history.order_by("id").values_list("actor_id", flat=True).first()
    if actor.pk in (data_request.user_id, opened_by):
        raise errors.SelfApproval()


def _pending_check(data_request: DataRequest) -> None:
    if data_request.type != RequestType.ERASURE or data_request.status != RequestStatus.AWAITING_APPROVAL:
        raise errors.RequestNotPending()


def erasure_approve(*, data_request: DataRequest, actor: User) -> DataRequest:
    """Staff approval (ERASURE_DECIDE: permission gdpr.approve_erasure and the rank rule; never about
    oneself, never of a request one opened); the erasure runs after the grace period unless cancelled."""
    _decider_check(data_request, actor)
    with transaction.atomic():
        locked = DataRequest.objects.select_for_update().select_related("user").get(pk=data_request.pk)
        _pending_check(locked)
        now = timezone.now()
        scheduled = now + timedelta(days=settings.GDPR_ERASURE_GRACE_DAYS)
        transition(
            locked,
            RequestStatus.APPROVED,
            actor=actor,
            decided_by=actor,
            decided_at=now,
            scheduled_for=scheduled,
        )
        audit.record(
            "gdpr.erasure_approved",
            actor=actor,
            subject=locked.user,
            details={"request_id": str(locked.pk), "scheduled_for": scheduled.isoformat()},
        )
        mail.enqueue(
            template="gdpr/email/erasure_approved",
            to=locked.user.email,
            subject_id=locked.user_id,
            context={
                "first_name": locked.user.first_name,
                "scheduled_for": scheduled.strftime("%Y-%m-%d %H:%M UTC"),
                "link": mail.link("/account/data-requests"),
            },
        )
    return locked


def erasure_reject(*, data_request: DataRequest, actor: User, reason: str) -> DataRequest:
    _decider_check(data_request, actor)
    with transaction.atomic():
        locked = DataRequest.objects.select_for_update().get(pk=data_request.pk)
        _pending_check(locked)
        transition(
            locked,
            RequestStatus.REJECTED,
            actor=actor,
            note=reason,
            decided_by=actor,
            decided_at=timezone.now(),
            reason=reason[:500],
        )
        audit.record(
            "gdpr.erasure_rejected",
            actor=actor,
            subject=locked.user_id,
            details={"request_id": str(locked.pk), "reason": reason[:500]},
        )
    return locked


def data_request_cancel(*, data_request: DataRequest, actor: User, reason: str = "") -> DataRequest:
    """The owner, or staff who may decide on erasures (ERASURE_DECIDE), cancel a request that has not
    started running (an approved erasure until it runs). Staff cancelling someone else's request give a
    reason: it is kept on the request and its history and audited with the cancellation."""
    reason = reason.strip()[:500]
    on_behalf = data_request.user_id != actor.pk
    if on_behalf:
        account_services.staff_action_authorize(actor=actor, target=data_request.user, action=ERASURE_DECIDE)
    with transaction.atomic():
        locked = DataRequest.objects.select_for_update().get(pk=data_request.pk)
        if locked.status not in CANCELLABLE:
            raise errors.RequestNotCancellable()
        if on_behalf and not reason:
            raise errors.ReasonRequired()
        fields: dict[str, Any] = {"completed_at": timezone.now()}
        if reason:
            fields["reason"] = reason
        transition(locked, RequestStatus.CANCELLED, actor=actor, note=reason, **fields)
        details = {"request_id": str(locked.pk)}
        if reason:
            details["reason"] = reason
        audit.record(f"gdpr.{locked.type}_cancelled", actor=actor, subject=locked.user_id, details=details)
    return locked


def _stuck() -> Q:
    """Running with the lease run out (the worker died), or queued for longer than a lease and never taken
    (the task was lost); `lease_until` on a waiting row marks when it was last (re-)queued."""
    now = timezone.now()
    expired = now - lease_delta()
    return Q(status=RequestStatus.RUNNING, lease_until__lt=now) | Q(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=expired),
        status=RequestStatus.PENDING,
    )


def _due_erasures() -> Q:
    now = timezone.now()
    return Q(type=RequestType.ERASURE, status=RequestStatus.APPROVED, scheduled_for__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def _requeue(condition: Q, *, dry_run: bool, action: str, limit: int = 500) -> list[str]:
    ids: list[str] = []
    with transaction.atomic():
        rows = list(
            DataRequest.objects.select_for_update(skip_locked=True)
            .filter(condition)
            .order_by("created_at")[:limit]
        )
        if dry_run:
            return [str(r.pk) for r in rows]
        now = timezone.now()
        for data_request in rows:
            if data_request.attempts >= settings.GDPR_MAX_ATTEMPTS:
                # A job that keeps dying (a crash, not a lost delivery) is not retried for ever.
                transition(
                    data_request,
                    RequestStatus.FAILED,
                    note=f"gave up after {data_request.attempts} attempts",
                    error=f"gave up after {data_request.attempts} attempts",
                    completed_at=now,
                    lease_owner="",
                    lease_until=None,
                )
                audit.record(
                    f"gdpr.{data_request.type}_failed",
                    subject=data_request.user_id,
                    details={"request_id": str(data_request.pk), "attempts": data_request.attempts},
                )
                ids.append(str(data_request.pk))
                continue
            waiting = (
                RequestStatus.PENDING if data_request.type == RequestType.EXPORT else RequestStatus.APPROVED
            )
            fields: dict[str, Any] = {"lease_until": now + lease_delta(), "lease_owner": ""}
            if data_request.status != waiting:
                transition(data_request, waiting, note="lease expired; re-queued", **fields)
            else:
                for name, value in fields.items():
                    setattr(data_request, name, value)
                data_request.save(update_fields=list(fields))
            audit.record(action, subject=data_request.user_id, details={"request_id": str(data_request.pk)})
            enqueue(data_request)
            ids.append(str(data_request.pk))
    return ids


def requests_requeue_stuck(*, dry_run: bool = False) -> list[str]:
    """The sweeper: huey delivers a task at most once, so requests whose job died or was lost are queued
    again. The job's claim makes a duplicate delivery harmless."""
    return _requeue(_stuck(), dry_run=dry_run, action="gdpr.request_requeued")


def erasures_enqueue_due(*, dry_run: bool = False) -> list[str]:
    """Queue the erasures whose grace period has ended."""
    return _requeue(_due_erasures(), dry_run=dry_run, action="gdpr.erasure_queued")


def erasure_cancel_for_restored(*, user: User, actor: User) -> DataRequest | None:
    """The restore hook (gdpr.handlers registers it with accounts): support is restoring the soft-deleted
    `user`, inside accounts.user_restore's transaction. The open erasure request, if any, is cancelled
    (audited as `gdpr.erasure_cancelled` with the reason `account_restored`); ErasureRunning refuses the
    restore while an erasure job holds the request. The request row is locked first, as the erasure job
    locks it before the user, so a job that claims it next finds it cancelled. Returns the cancelled
    request."""
    open_request = (
        DataRequest.objects.select_for_update()
        .filter(user_id=user.pk, type=RequestType.ERASURE, status__in=OPEN_STATUSES)
        .first()
    )
    if open_request is None:
        return None
    if open_request.status == RequestStatus.RUNNING:
        raise errors.ErasureRunning()
    transition(
        open_request,
        RequestStatus.CANCELLED,
        actor=actor,
        note="account restored",
        completed_at=timezone.now(),
    )
    audit.record(
        "gdpr.erasure_cancelled",
        actor=actor,
        subject=user.pk,
        details={"request_id": str(open_request.pk), "reason": "account_restored"},
    )
    return open_request
