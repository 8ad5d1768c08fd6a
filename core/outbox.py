"""The transactional outbox: the one way a side effect leaves a change.

A service that owes a side effect (a mail, a job to queue, another app's reaction) calls `publish(topic,
payload)` inside the transaction of its change. One row per registered handler of the topic is written in
that transaction, so the change and the promise of its effect commit together or not at all. After the
commit the relay is kicked (a huey task); a periodic task runs it too, as the safety net for a kick that
could not be queued (broker down) or a relay that died. The relay delivers each row at least once; every
handler is idempotent, keyed by the row's id, so its effect happens once:

- a transactional handler runs in the same database transaction that marks its row delivered (a crash
  rolls both back, and the retry finds nothing done);
- a handler with an outside effect (SMTP, the broker, HTTP) names it by the row's id (a mail's Message-ID,
  a task's arguments that a lease makes harmless to repeat), so a repeat after a crash between the effect
  and the mark is recognisable downstream.

A failing row is retried with exponential backoff and jitter; after OUTBOX_MAX_ATTEMPTS it is marked failed,
reported by /health/ready and shown in the console, where staff can retry it.

Handlers register with `@outbox.handler(topic)` in a module their app's AppConfig.ready() imports, so every
process (web and consumer) knows the whole registry before it publishes or relays.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from core import context
from core.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

HandlerFunc = Callable[[OutboxMessage], None]


@dataclass(frozen=True)
class Handler:
    key: str
    topic: str
    func: HandlerFunc
    transactional: bool


_handlers: dict[str, Handler] = {}
_by_topic: dict[str, list[Handler]] = {}
# Queues a relay run; set by CoreConfig.ready() to the huey task (core.tasks), kept out of this module so
# the outbox does not import its own task module.
_kicker: Callable[[], Any] | None = None


def handler(
    topic: str, *, transactional: bool, key: str | None = None
) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register `func(message)` for `topic`. `transactional=True`: it only writes this database, and runs
    inside the transaction that marks the row delivered. `transactional=False`: it has an outside effect
    and must be idempotent by `message.id`."""

    def register(func: HandlerFunc) -> HandlerFunc:
        name = key or f"{func.__module__}.{func.__qualname__}"
        registered = Handler(key=name, topic=topic, func=func, transactional=transactional)
        previous = _handlers.get(name)
        if previous is not None and previous.func is not func:
            raise ValueError(f"outbox handler {name!r} is registered twice")
        if previous is None:
            _handlers[name] = registered
            _by_topic.setdefault(topic, []).append(registered)
        return func

    return register


def handlers_for(topic: str) -> list[Handler]:
    return list(_by_topic.get(topic, []))


def set_kicker(kicker: Callable[[], Any] | None) -> None:
    global _kicker
    _kicker = kicker


def publish(topic: str, payload: dict[str, Any], *, subject_id: Any = None) -> list[OutboxMessage]:
    """Owe `topic`'s side effects: one row per handler, in the caller's transaction (call it inside the
    `transaction.atomic()` of the change). The payload must be JSON; it may carry secrets a mail needs
    (a verification key), so it is emptied once delivered and never logged."""
    handlers = _by_topic.get(topic)
    if not handlers:
        raise LookupError(f"no outbox handler is registered for {topic!r}")
    now = timezone.now()
    ctx = context.current().as_dict()
    rows = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                created_at=now,
                available_at=now,
                topic=topic,
                handler=h.key,
                payload=payload,
                context=ctx,
                subject_id=subject_id,
            )
            for h in handlers
        ]
    )
    _kick_on_commit()
    return rows


def _kick_on_commit() -> None:
    """Kick the relay when the current transaction commits, once per transaction however many rows it
    publishes (one relay run delivers them all; on the embedded default each kick is a write to the queue
    file). A kick already registered counts only if it runs whenever this one would: registered in this
    savepoint or an enclosing one still open (Django drops the callbacks of a savepoint rolled back)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        open_savepoints = set(connection.savepoint_ids)
        if any(func is kick and sids <= open_savepoints for sids, func, _ in connection.run_on_commit):
            return
    transaction.on_commit(kick, robust=True)


def kick() -> None:
    """Queue a relay run now. Never raises: with the broker down the rows wait, committed, for the
    periodic relay (or the next kick that gets through). Logged without a traceback: during an outage
    every commit that publishes logs this line, and the cause is all there is to say."""
    if _kicker is None:
        return
    try:
        _kicker()
    except Exception as exc:
        logger.error(
            "outbox: could not queue the relay (%s: %s); pending side effects wait for the next relay run",
            type(exc).__name__,
            exc,
        )


# --- the relay ------------------------------------------------------------------------------------------


class LeaseLost(Exception):
    """The row was taken over by another relay after this one's lease ran out."""


def backoff_seconds(attempts: int) -> float:
    """Exponential, capped, with jitter (half fixed, half random), so failing rows spread out."""
    cap = min(
        float(settings.OUTBOX_BACKOFF_MAX_SECONDS),
        float(settings.OUTBOX_BACKOFF_BASE_SECONDS) * 2 ** max(0, attempts - 1),
    )
    return cap / 2 + random.uniform(0, cap / 2)


def _claim(limit: int, owner: str) -> list[OutboxMessage]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, available_at__lte=now)
            .order_by("available_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        OutboxMessage.objects.filter(id__in=ids).update(
            lease_owner=owner, available_at=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        )
    return list(OutboxMessage.objects.filter(id__in=ids, lease_owner=owner).order_by("id"))


def _mark_delivered(message: OutboxMessage) -> bool:
    return bool(
        OutboxMessage.objects.filter(
            pk=message.pk, status=OutboxStatus.PENDING, lease_owner=message.lease_owner
        ).update(status=OutboxStatus.DELIVERED, delivered_at=timezone.now(), payload={}, lease_owner="")
    )


def _mark_failed(message: OutboxMessage, exc: BaseException) -> str:
    attempts = message.attempts + 1
    # The exception's text only: a payload may carry secrets (a reset link), so it is never formatted here.
    error = f"{type(exc).__name__}: {exc}"[:1000]
    fields: dict[str, Any] = {"attempts": attempts, "last_error": error, "lease_owner": ""}
    if attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        outcome = FAILED
        fields["status"] = OutboxStatus.FAILED
        # Due "now" again, so a retry from the console is due at once (retry() sets it too).
        fields["available_at"] = timezone.now()
        logger.error(
            "outbox: #%s %s (%s) failed for good after %d attempts: %s",
            message.pk,
            message.topic,
            message.handler,
            attempts,
            type(exc).__name__,
        )
    else:
        outcome = RETRYING
        delay = backoff_seconds(attempts)
        fields["available_at"] = timezone.now() + timedelta(seconds=delay)
        logger.warning(
            "outbox: #%s %s (%s) attempt %d failed (%s); retrying in %.0f s",
            message.pk,
            message.topic,
            message.handler,
            attempts,
            type(exc).__name__,
            delay,
        )
    updated = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxStatus.PENDING, lease_owner=message.lease_owner
    ).update(**fields)
    return outcome if updated else LOST


# What deliver() did with a row.
DELIVERED = "delivered"
RETRYING = "retrying"  # failed; due again after its backoff
FAILED = "failed"  # failed OUTBOX_MAX_ATTEMPTS times; waits for an operator's retry
LOST = "lost"  # another relay took the row over (this one's lease had run out); the effect is left to it


def deliver(message: OutboxMessage) -> str:
    """Run one claimed row's handler and record the outcome (DELIVERED, RETRYING, FAILED or LOST)."""
    registered = _handlers.get(message.handler)
    token = context.bind(context.RequestContext.from_dict(message.context))
    try:
        if registered is None:
            raise LookupError(f"no outbox handler named {message.handler!r} in this process")
        if registered.transactional:
            with transaction.atomic():
                registered.func(message)
                if not _mark_delivered(message):
                    raise LeaseLost()
        else:
            registered.func(message)
            if not _mark_delivered(message):
                # The effect happened twice at worst, under the same id (a mail's Message-ID).
                logger.warning("outbox: #%s was taken over by another relay while delivering", message.pk)
                return LOST
        return DELIVERED
    except LeaseLost:
        logger.warning("outbox: #%s was taken over by another relay; its effect is left to it", message.pk)
        return LOST
    except Exception as exc:
        return _mark_failed(message, exc)
    finally:
        context.reset(token)


def _release(messages: list[OutboxMessage], owner: str) -> int:
    """Give claimed rows back, due now (this relay will not reach them within its lease)."""
    return OutboxMessage.objects.filter(
        id__in=[m.pk for m in messages], status=OutboxStatus.PENDING, lease_owner=owner
    ).update(lease_owner="", available_at=timezone.now())


@dataclass
class RelayResult:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0
    released: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def relay(*, batch_size: int | None = None, max_batches: int = 50) -> RelayResult:
    """Deliver due rows, oldest first, batch after batch until none is due (or `max_batches` were claimed),
    so rows that handlers publish while it runs are delivered by the same run. Safe to run in several
    processes at once: each claims its rows (SKIP LOCKED on PostgreSQL, the write lock on SQLite) and leases
    them for OUTBOX_LEASE_SECONDS. A row is only started while at least half of its lease is left; the
    rest of a slow batch is given back and claimed again, so a row whose lease ran out (and that another
    relay may have taken) is never started."""
    size = batch_size or settings.OUTBOX_BATCH_SIZE
    owner = secrets.token_hex(8)
    result = RelayResult()
    for _ in range(max_batches):
        batch = _claim(size, owner)
        if not batch:
            break
        result.claimed += len(batch)
        deadline = time.monotonic() + settings.OUTBOX_LEASE_SECONDS / 2
        for index, message in enumerate(batch):
            if time.monotonic() >= deadline:
                result.released += _release(batch[index:], owner)
                break
            result.count(deliver(message))
    return result


# --- operators ------------------------------------------------------------------------------------------


def failed() -> QuerySet[OutboxMessage]:
    """Rows that failed for good, newest first (the console's list)."""
    return OutboxMessage.objects.filter(status=OutboxStatus.FAILED).order_by("-id")


def retry(*, message_id: int) -> bool:
    """Give a failed row a fresh set of attempts, due now. False if it is not failed."""
    updated = OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, attempts=0, available_at=timezone.now(), lease_owner=""
    )
    if updated:
        _kick_on_commit()
    return bool(updated)


@dataclass(frozen=True)
class Backlog:
    pending: int
    failed: int
    oldest_pending_seconds: int


def backlog() -> Backlog:
    """What /health/ready reports: how many rows wait, how many failed, and how old the oldest waiting is.
    One query (the status index keeps it cheap while delivered rows are purged daily)."""
    pending = Q(status=OutboxStatus.PENDING)
    row = OutboxMessage.objects.exclude(status=OutboxStatus.DELIVERED).aggregate(
        pending=Count("id", filter=pending),
        failed=Count("id", filter=Q(status=OutboxStatus.FAILED)),
        oldest=Min("created_at", filter=pending),
    )
    oldest = row["oldest"]
    return Backlog(
        pending=row["pending"],
        failed=row["failed"],
        oldest_pending_seconds=max(0, int((timezone.now() - oldest).total_seconds())) if oldest else 0,
    )


def purge_delivered(*, dry_run: bool = False) -> int:
    """Delete delivered rows older than OUTBOX_RETENTION_DAYS (their payload is already empty)."""
    cutoff = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    old = OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED, delivered_at__lt=cutoff)
    if dry_run:
        return old.count()
    count, _ = old.delete()
    return count


def forget_subject(*, subject_id: Any) -> int:
    """Erasure: drop the undelivered rows about a user (they may carry their address or name). A row
    published without a subject (the erasure's own confirmation mail) is kept, and so is a row a relay is
    delivering right now (its effect is under way; among them the job row that started this erasure).
    Returns the rows dropped."""
    in_flight = Q(status=OutboxStatus.PENDING, available_at__gt=timezone.now()) & ~Q(lease_owner="")
    rows = (
        OutboxMessage.objects.filter(subject_id=subject_id)
        .exclude(status=OutboxStatus.DELIVERED)
        .exclude(in_flight)
    )
    count, _ = rows.delete()
    return count
