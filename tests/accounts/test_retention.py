"""Session retention: accounts.services.sessions_purge, scheduled by gdpr (`manage.py gdpr_purge_sessions`)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from accounts import services
from accounts.models import Session
from audit.models import AuditEvent


def run(*args: str) -> str:
    out = StringIO()
    call_command("gdpr_purge_sessions", *args, stdout=out)
    return out.getvalue()


def test_command_purges_sessions_ended_past_retention(user, make_user, time_machine, settings):
    settings.SESSION_RETENTION_DAYS = 90
    revoked, _ = services.session_open(user=user, via="password")
    services.session_revoke(session=revoked, actor=user)
    expired, _ = services.session_open(user=user, via="password")
    time_machine.move_to(timezone.now() + timedelta(days=91))
    live, _ = services.session_open(user=make_user(email="bob@example.com"), via="password")
    # `expired` reached its 30-day absolute expiry 61 days ago: within retention.
    assert run("--dry-run") == "would: delete ended sessions past retention: 1\n"
    assert Session.objects.count() == 3
    assert run() == "did: delete ended sessions past retention: 1\n"
    assert set(Session.objects.values_list("pk", flat=True)) == {expired.pk, live.pk}
    event = AuditEvent.objects.get(action="retention.sessions_purged")
    assert event.actor_type == "system" and event.details["count"] == 1
    assert services.sessions_purge() == 0
    assert AuditEvent.objects.filter(action="retention.sessions_purged").count() == 1


def test_retention_counts_from_the_end_of_a_session(user, time_machine, settings):
    settings.SESSION_RETENTION_DAYS = 10
    session, _ = services.session_open(user=user, via="password")
    time_machine.move_to(timezone.now() + timedelta(days=20))
    # Revoked just now, after 20 days of use: its retention starts now.
    services.session_revoke(session=session, actor=user)
    assert services.sessions_purge(dry_run=True) == 0
    time_machine.move_to(timezone.now() + timedelta(days=11))
    assert services.sessions_purge() == 1
