"""huey tasks of webhook delivery: take ids, call one service, safe to run twice."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from integrations import services

logger = logging.getLogger(__name__)


@db_task()
def webhook_deliver(delivery_id: int) -> None:
    retry_at = services.delivery_attempt(delivery_id=delivery_id)
    if retry_at is not None:
        # The retry is queued for its time; if this scheduled task is lost, the sweeper below finds the row.
        delay = max(0.0, (retry_at - timezone.now()).total_seconds())
        webhook_deliver.schedule(args=(delivery_id,), delay=delay)


@db_periodic_task(crontab(minute="*"))
def webhook_deliveries_requeue() -> None:
    """huey delivers a task at most once: a worker that died mid-attempt, or a retry lost from the
    schedule, leaves a pending row that is due; this queues it again (the claim drops duplicates)."""
    due = services.deliveries_due()
    for delivery_id in due:
        webhook_deliver(delivery_id)
    if due:
        logger.info("webhooks: queued %d due deliveries", len(due))


@db_periodic_task(crontab(hour="4", minute="23"))
def webhook_retention() -> None:
    services.secrets_expire()
    services.events_purge()
