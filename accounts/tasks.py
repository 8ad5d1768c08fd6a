"""huey tasks of the accounts app: call one service, safe to run twice."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from accounts import services


@db_periodic_task(crontab(minute="23"))
def mfa_challenges_purge() -> None:
    services.mfa_challenges_purge()
