"""The one way to write an audit event, the HMACs that seal its content, and pseudonymisation."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models.base import ModelState
from django.utils import timezone

from audit.models import ActorType, AuditEvent
from core import context


class _Actor(Protocol):
    pk: Any
    is_staff: bool


def _hmac(payload: str) -> str:
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _content(event: AuditEvent) -> str:
    return json.dumps(
        [
            event.created_at.isoformat(),
            event.actor_type,
            str(event.actor_id or ""),
            str(event.subject_id or ""),
            event.action,
            event.ip or "",
            event.user_agent,
            event.request_id,
            event.details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def row_hash(event: AuditEvent) -> str:
    return _hmac(_content(event))


def redaction_hash(event: AuditEvent) -> str:
    return _hmac(f"redacted|{event.row_hash}|{_content(event)}")


def pseudonym(user_id: uuid.UUID) -> uuid.UUID:
    """A stable keyed pseudonym for a user id: events of one erased user stay linkable to each other only."""
    digest = hmac.new(
        settings.AUDIT_HMAC_KEY.encode(), f"pseudonym|{user_id}".encode(), hashlib.sha256
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


# Subscribers: a higher app (webhooks) asks at ready() to hear of some actions. `record` calls them inside the
# change's transaction, so what they write (an outbox row) commits or rolls back with the change; an action
# nobody subscribed to costs one dict lookup. A subscriber that raises fails the change: it must not.
Subscriber = Callable[[AuditEvent], None]
_subscribers: dict[str, list[Subscriber]] = {}


def subscribe(actions: Iterable[str], subscriber: Subscriber) -> None:
    """Call `subscriber(event)` for every event of these actions, right after it is written. Idempotent."""
    for action in actions:
        listeners = _subscribers.setdefault(action, [])
        if subscriber not in listeners:
            listeners.append(subscriber)


def _event(
    action: str,
    *,
    actor: _Actor | None,
    subject: _Actor | uuid.UUID | None,
    details: dict[str, Any] | None,
    actor_type: str | None,
) -> AuditEvent:
    """The event `record` writes, not yet saved, its row_hash set."""
    ctx = context.current()
    subject_id = subject if isinstance(subject, uuid.UUID) or subject is None else subject.pk
    actor_id = actor.pk if actor is not None else None
    details = details or {}
    key = ctx.api_key
    if actor_type is None and key is not None and actor is not None and actor.pk == key.owner_id:
        actor_type, actor_id = ActorType.API_KEY, key.id
        details = {**details, "api_key_prefix": key.prefix}
    if actor_type is None:
        if actor is None:
            actor_type = ActorType.SYSTEM
        elif actor.is_staff and actor.pk != subject_id:
            actor_type = ActorType.STAFF
        else:
            actor_type = ActorType.USER
    event = AuditEvent(
        created_at=timezone.now(),
        actor_type=actor_type,
        actor_id=actor_id,
        subject_id=subject_id,
        action=action,
        ip=ctx.ip,
        user_agent=ctx.user_agent[:512],
        request_id=ctx.request_id,
        details=details,
    )
    event.row_hash = row_hash(event)
    return event


@functools.cache
def _insert_sql(alias: str) -> tuple[str, str, tuple[models.Field[Any, Any], ...]]:
    """INSERT of one event, built once per process and database from the model's metadata: the statement
    (RETURNING the id), the column list with its placeholders for an INSERT … SELECT, and the fields."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    fields = tuple(f for f in AuditEvent._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(qn(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table = qn(AuditEvent._meta.db_table)
    pk = qn(AuditEvent._meta.pk.column)  # type: ignore[union-attr]
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}"  # noqa: S608
    select = f"INSERT INTO {table} ({columns}) SELECT {placeholders}"
    return sql, select, fields


@functools.cache
def _preparers(alias: str) -> tuple[tuple[str, Callable[..., Any] | None], ...]:
    """Per inserted column: its attribute and how the ORM prepares its value, None where that is the value
    itself (a plain CharField: to_python returns a str or None unchanged)."""
    return tuple(
        (f.attname, None if type(f) is models.CharField else f.get_db_prep_save)
        for f in _insert_sql(alias)[2]
    )


def _params(event: AuditEvent, alias: str) -> list[Any]:
    connection = connections[alias]
    return [
        getattr(event, attname) if prepare is None else prepare(getattr(event, attname), connection)
        for attname, prepare in _preparers(alias)
    ]


def _saved(event: AuditEvent, pk: int, alias: str) -> AuditEvent:
    event.pk = pk
    event._state = ModelState()
    event._state.adding, event._state.db = False, alias
    for subscriber in _subscribers.get(event.action, ()):
        subscriber(event)
    return event


def record(
    action: str,
    *,
    actor: _Actor | None = None,
    subject: _Actor | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    actor_type: str | None = None,
) -> AuditEvent:
    """Write one event. Call inside the transaction of the change it describes.

    In a request authenticated with an admin API key (context.ActingKey), an event whose actor is the key's
    owner is the key's: actor_type api_key, actor_id the key's id, and the key's public prefix in
    details["api_key_prefix"] (never the key itself).

    The INSERT is built once per process (what `event.save(force_insert=True)` sends, without the ORM's
    per-call statement building; AuditEvent has no save signals' receivers)."""
    event = _event(action, actor=actor, subject=subject, details=details, actor_type=actor_type)
    alias = router.db_for_write(AuditEvent)
    with connections[alias].cursor() as cursor:
        cursor.execute(_insert_sql(alias)[0], _params(event, alias))
        pk = cursor.fetchone()[0]
    return _saved(event, pk, alias)


def record_guarded(
    change_sql: str,
    change_params: Sequence[Any],
    action: str,
    *,
    actor: _Actor | None = None,
    subject: _Actor | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    using: str = "default",
) -> AuditEvent | None:
    """A guarded change of the caller's own table and its event, atomically and in as few round trips as
    the database allows: `change_sql` is one UPDATE/INSERT/DELETE … RETURNING that returns a row when it
    changed something; the event is written only then. Returns the event, or None when nothing changed.

    PostgreSQL: one statement, the change as a data-modifying CTE that the event's INSERT … SELECT reads
    (one round trip, no BEGIN/COMMIT). Elsewhere, or when a subscriber must run in the change's
    transaction: the change and the insert in one short transaction (on SQLite the write lock is taken at
    its BEGIN, after everything that does not write was done)."""
    event = _event(action, actor=actor, subject=subject, details=details, actor_type=None)
    connection = connections[using]
    in_one_statement = (
        connection.vendor == "postgresql" and connection.get_autocommit() and not _subscribers.get(action)
    )
    if in_one_statement:
        pk = connection.ops.quote_name(AuditEvent._meta.pk.column)  # type: ignore[union-attr]
        sql = f"WITH changed AS ({change_sql}) {_insert_sql(using)[1]} FROM changed RETURNING {pk}"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*change_params, *_params(event, using)])
            row = cursor.fetchone()
        return None if row is None else _saved(event, row[0], using)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(change_sql, list(change_params))
        if cursor.fetchone() is None:
            return None
        cursor.execute(_insert_sql(using)[0], _params(event, using))
        pk = cursor.fetchone()[0]
        return _saved(event, pk, using)


# Keys in event details that may hold personal data; erasure blanks them.
PERSONAL_DETAIL_KEYS = frozenset(
    {
        "email",
        "old_email",
        "new_email",
        "username",
        "first_name",
        "last_name",
        "name",
        "phone",
        "ip",
        "user_agent",
    }
)


def events_pseudonymise(*, subject_id: uuid.UUID) -> int:
    """Erasure of one user in the audit log: their id becomes a keyed pseudonym wherever it is actor or
    subject, personal detail values are blanked, IP and user agent are dropped. Events are kept and stay
    verifiable (see redaction_hash). Idempotent. Returns the number of events changed."""
    alias = pseudonym(subject_id)
    now = timezone.now()
    changed = 0
    events = AuditEvent.objects.filter(
        models.Q(subject_id=subject_id) | models.Q(actor_id=subject_id)
    ).order_by("id")
    for event in events.iterator(chunk_size=500):
        if event.subject_id == subject_id:
            event.subject_id = alias
        if event.actor_id == subject_id:
            event.actor_id = alias
        event.ip = None
        event.user_agent = ""
        event.details = {
            k: ("[erased]" if k in PERSONAL_DETAIL_KEYS else v) for k, v in (event.details or {}).items()
        }
        event.redacted_at = event.redacted_at or now
        event.redaction_hash = redaction_hash(event)
        event._sealing = True  # type: ignore[attr-defined]  # the one sanctioned rewrite of an event
        event.save(
            update_fields=[
                "subject_id",
                "actor_id",
                "ip",
                "user_agent",
                "details",
                "redacted_at",
                "redaction_hash",
            ]
        )
        changed += 1
    return changed
