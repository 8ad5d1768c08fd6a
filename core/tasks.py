"""huey tasks of the outbox: the relay (queued by every commit that published something) and its safety nets."""

from __future__ import annotations

import logging

from django.db import close_old_connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from core import outbox

logger = logging.getLogger(__name__)


@db_task(priority=10)
def outbox_relay() -> None:
    outbox.relay()


@db_periodic_task(crontab(minute="*"))
def outbox_relay_periodic() -> None:
    """Delivers what a lost kick left behind (the broker was down at commit time, a relay died)."""
    result = outbox.relay()
    if result.claimed:
        logger.info("outbox: periodic relay delivered %d of %d", result.delivered, result.claimed)


@db_periodic_task(crontab(hour="4", minute="7"))
def outbox_purge_delivered() -> None:
    outbox.purge_delivered()


@on_startup()
def _relay_at_startup() -> None:
    # A consumer that starts after a broker outage delivers the backlog at once, not a minute later.
    try:
        outbox.relay()
    except Exception:
        logger.exception("outbox: relay at consumer start-up failed; the periodic relay will retry")
    finally:
        close_old_connections()
