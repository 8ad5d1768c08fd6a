"""huey tasks of the gdpr app: take ids, call one service, safe to run twice. The retention schedule lives
here too, for every app's personal data (one table in docs/gdpr.md); each job is the owning app's service."""

from __future__ import annotations

import logging
import uuid

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from accounts import services as accounts_services
from audit import services as audit_services
from gdpr import services

logger = logging.getLogger(__name__)


@db_task()
def export_build(request_id: str) -> None:
    services.export_run(data_request_id=uuid.UUID(request_id))


@db_task()
def erasure_execute(request_id: str) -> None:
    services.erasure_run(data_request_id=uuid.UUID(request_id))


@db_periodic_task(crontab(minute="*"))
def requests_requeue_stuck() -> None:
    ids = services.requests_requeue_stuck()
    if ids:
        logger.warning("re-queued %d stuck data requests", len(ids))


@db_periodic_task(crontab(minute="*/5"))
def erasures_run_due() -> None:
    services.erasures_enqueue_due()


@db_periodic_task(crontab(minute="*/15"))
def exports_purge_expired() -> None:
    services.exports_purge_expired()


@db_periodic_task(crontab(hour="3", minute="17"))
def sessions_purge() -> None:
    accounts_services.sessions_purge()


@db_periodic_task(crontab(hour="3", minute="37"))
def audit_retention() -> None:
    audit_services.events_retention()
