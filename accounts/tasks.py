from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from huey.contrib.djhuey import db_task

from accounts import mail

logger = logging.getLogger(__name__)


@db_task(retries=6, retry_delay=30, retry_backoff=2)
def email_send(template: str, to: str, context: dict[str, Any]) -> None:
    mail.mail_send(template=template, to=to, context=context)
    logger.info("mail sent template=%s", template)


def email_enqueue(*, template: str, to: str, context: dict[str, Any]) -> None:
    """Queue a mail once the surrounding transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: email_send(template, to, context))
