"""Which changes become webhook events, and what their payload says.

Every state change in Custodian writes an audit event through audit.services.record inside its
transaction. This module subscribes to the audit actions that matter to other services and turns each into
a webhook event, written to the outbox in that same transaction: the change and the promise to announce it
commit together, and no service had to learn about webhooks. Actions not listed here (logins, token
refreshes) cost nothing. When no enabled endpoint wants the event type, nothing is written at all.

Payload data is built from an allow-list of facts per action, never copied from the audit details (those
hold old and new e-mail addresses, reasons typed by staff): ids, types, timestamps, flags and counts only.
After an erasure nothing in an event identifies the person beyond the user id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit import services as audit
from audit.models import AuditEvent
from core import outbox
from integrations import selectors

# Published in the change's transaction; integrations.handlers creates the event and its deliveries.
EVENT_TOPIC = "integrations.webhook_event"
TEST_EVENT = "webhook.test"

EVENT_TYPES: dict[str, str] = {
    "user.created": "An account was registered (password sign-up, social login, or the demo staff command).",
    "user.updated": "Profile fields changed; data.fields names them (values are not sent: fetch them).",
    "user.email_changed": "The login e-mail address changed (the address itself is not sent).",
    "user.deactivated": "Staff deactivated the account; every session ended.",
    "user.reactivated": "Staff reactivated the account.",
    "user.deleted": "The user deleted the account (soft deletion): login ended, every session revoked, erasure requested.",
    "user.erased": "The personal data was erased: delete or anonymise your copy now.",
    "session.revoked": "One session (data.scope = session) or all of a user's sessions (data.scope = all) ended.",
    "consent.changed": "A consent was granted or withdrawn (data.purpose, data.granted).",
}
TEST_DESCRIPTION = "Sent by the console's or manage.py's test button to one endpoint; data.endpoint_id."

Facts = Callable[[AuditEvent], dict[str, Any] | None]


def _none(event: AuditEvent) -> dict[str, Any]:
    return {}


def _fields(names: list[str]) -> Facts:
    return lambda event: {"fields": names}


def _user_updated(event: AuditEvent) -> dict[str, Any]:
    return {"fields": [str(f) for f in event.details.get("fields", [])]}


def _created(event: AuditEvent) -> dict[str, Any]:
    return {"via": str(event.details.get("via", ""))}


def _deactivated(event: AuditEvent) -> dict[str, Any]:
    # The staff member's reason is free text (it may name people); only the count goes out.
    return {"sessions_revoked": int(event.details.get("sessions", 0))}


def _session_revoked(event: AuditEvent) -> dict[str, Any]:
    return {
        "scope": "session",
        "session_id": str(event.details.get("session_id", "")),
        "reason": str(event.details.get("reason", "")),
    }


def _token_reused(event: AuditEvent) -> dict[str, Any]:
    return {
        "scope": "session",
        "session_id": str(event.details.get("session_id", "")),
        "reason": "token_reused",
    }


def _sessions_revoked(event: AuditEvent) -> dict[str, Any] | None:
    count = int(event.details.get("count", 0))
    if not count:
        return None  # nothing ended: not a change
    return {
        "scope": "all",
        "reason": str(event.details.get("reason", "")),
        "count": count,
        "kept_session_id": event.details.get("kept"),
    }


def _consent(event: AuditEvent) -> dict[str, Any]:
    return {
        "purpose": str(event.details.get("purpose", "")),
        "granted": event.action == "consent.granted",
        "policy_version": str(event.details.get("policy_version", "")),
    }


# audit action → (event type, the facts its payload carries besides user_id and actor_type)
ACTIONS: dict[str, tuple[str, Facts]] = {
    "user.registered": ("user.created", _created),
    "user.updated": ("user.updated", _user_updated),
    "user.email_verified": ("user.updated", _fields(["email_verified"])),
    "user.avatar_updated": ("user.updated", _fields(["avatar"])),
    "user.avatar_removed": ("user.updated", _fields(["avatar"])),
    "user.email_changed": ("user.email_changed", _none),
    "user.deactivated": ("user.deactivated", _deactivated),
    "user.reactivated": ("user.reactivated", _none),
    "user.deleted": ("user.deleted", _none),
    "gdpr.erasure_completed": ("user.erased", _none),
    "session.revoked": ("session.revoked", _session_revoked),
    "session.token_reused": ("session.revoked", _token_reused),
    "session.revoked_all": ("session.revoked", _sessions_revoked),
    "consent.granted": ("consent.changed", _consent),
    "consent.withdrawn": ("consent.changed", _consent),
}


def on_audit_event(event: AuditEvent) -> None:
    """The audit subscriber: owe a webhook event if an enabled endpoint wants its type."""
    event_type, facts = ACTIONS[event.action]
    data = facts(event)
    if data is None or not selectors.event_type_wanted(event_type):
        return
    payload = {
        "type": event_type,
        "occurred_at": event.created_at.isoformat(),
        "data": {
            "user_id": str(event.subject_id) if event.subject_id else None,
            "actor_type": event.actor_type,
            **data,
        },
    }
    # No subject_id: the payload holds no personal data, and erasure must not drop the very events
    # (user.deleted, user.erased) that tell other services to delete their copies.
    outbox.publish(EVENT_TOPIC, payload)


def subscribe() -> None:
    audit.subscribe(ACTIONS, on_audit_event)
