"""The one way to write an audit event."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from audit import context
from audit.models import ActorType, AuditEvent


class _Actor(Protocol):
    pk: Any
    is_staff: bool


def _row_hash(event: AuditEvent) -> str:
    payload = json.dumps(
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
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), payload.encode(), hashlib.sha256).hexdigest()


def record(
    action: str,
    *,
    actor: _Actor | None = None,
    subject: _Actor | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    actor_type: str | None = None,
) -> AuditEvent:
    """Write one event. Call inside the transaction of the change it describes."""
    ctx = context.current()
    subject_id = subject if isinstance(subject, uuid.UUID) or subject is None else subject.pk
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
        actor_id=actor.pk if actor is not None else None,
        subject_id=subject_id,
        action=action,
        ip=ctx.ip,
        user_agent=ctx.user_agent[:512],
        request_id=ctx.request_id,
        details=details or {},
    )
    event.row_hash = _row_hash(event)
    event.save(force_insert=True)
    return event
