"""How the console names people: by e-mail address, never by a truncated id. One query per page looks up
the addresses of every actor and subject shown."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from accounts import selectors as account_selectors
from audit.models import AuditEvent


@dataclass(frozen=True)
class EventRow:
    """An audit event with the addresses of its actor and subject ("" for an erased user or a pseudonym)."""

    event: AuditEvent
    actor_email: str
    subject_email: str


def event_rows(events: Iterable[AuditEvent]) -> list[EventRow]:
    events = list(events)
    ids: set[uuid.UUID | None] = {e.actor_id for e in events} | {e.subject_id for e in events}
    emails = account_selectors.user_emails(ids=ids)
    return [
        EventRow(
            event=e,
            actor_email=emails.get(e.actor_id, "") if e.actor_id else "",
            subject_email=emails.get(e.subject_id, "") if e.subject_id else "",
        )
        for e in events
    ]
