from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from huey.contrib.djhuey import db_task

from accounts import mail
from audit import context

logger = logging.getLogger(__name__)


@db_task(retries=6, retry_delay=30, retry_backoff=2)
def email_send(template: str, to: str, context: dict[str, Any]) -> None:
    mail.mail_send(template=template, to=to, context=context)
    logger.info("mail sent template=%s", template)


def email_enqueue(*, template: str, to: str, context: dict[str, Any]) -> None:
    """Queue a mail once the surrounding transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: email_send(template, to, context))


@db_task(retries=3, retry_delay=30)
def password_reset_deliver(email: str, ip: str | None, user_agent: str, request_id: str) -> None:
    """Look the address up and mail a reset link, off the request path (the answer's timing stays the same
    for known and unknown addresses). The request's audit context travels with the task."""
    from accounts import services_passwords

    token = context.bind(context.RequestContext(ip=ip, user_agent=user_agent, request_id=request_id))
    try:
        services_passwords.password_reset_send(email=email)
    finally:
        context.reset(token)
