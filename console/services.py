"""Operator actions of the console that belong to no domain app. Each writes its audit event in the same
transaction as its change (core cannot audit: it sits below the audit app)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from accounts.models import User
from audit import services as audit
from core import outbox
from core.errors import NotFound
from core.models import OutboxMessage, OutboxStatus


def outbox_retry(*, message_id: int, actor: User) -> OutboxMessage:
    """Give a delivery that failed for good a fresh set of attempts, due now (the relay is kicked once this
    commits). Audited as `outbox.retried`. Raises NotFound unless the row exists and is failed (a second
    click, or another staff member's retry, finds it pending or delivered)."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=message_id, status=OutboxStatus.FAILED)
            .first()
        )
        if message is None or not outbox.retry(message_id=message.pk):
            raise NotFound(gettext("No failed delivery with this id: it was retried or delivered meanwhile."))
        audit.record(
            "outbox.retried",
            actor=actor,
            subject=message.subject_id,
            details={
                "message_id": message.pk,
                "topic": message.topic,
                "handler": message.handler,
                "attempts": message.attempts,
                "last_error": message.last_error[:200],
            },
        )
        message.refresh_from_db()
    return message
