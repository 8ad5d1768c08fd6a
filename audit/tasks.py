from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from audit import services

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute=f"*/{settings.AUDIT_SEAL_EVERY_MINUTES}"))
def audit_seal() -> int:
    """Link new events into the hash chain. Safe to run twice: the sealer locks the chain head row."""
    sealed = services.events_seal()
    if sealed:
        logger.info("audit events sealed count=%s", sealed)
    return sealed
