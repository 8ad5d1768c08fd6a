"""Audit retention (audit.services.events_retention, `manage.py gdpr_audit_retention`): the oldest events go,
the chain stays verifiable."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit import services
from audit.models import AuditEvent, ChainHead
from tests.audit.test_chain import verify
from tests.conftest import actions


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.AUDIT_SEAL_LAG_SECONDS = 0
    settings.AUDIT_RETENTION_DAYS = 30


def _record(n: int, prefix: str) -> list[AuditEvent]:
    return [services.record(f"test.{prefix}_{i}") for i in range(n)]


def _ids() -> list[int]:
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def run(*args: str) -> str:
    out = StringIO()
    call_command("gdpr_audit_retention", *args, stdout=out)
    return out.getvalue()


def test_command_deletes_the_old_part_of_the_chain(db, time_machine):
    old = _record(3, "old")
    time_machine.move_to(timezone.now() + timedelta(days=31))
    kept = _record(2, "kept")
    verify()
    assert run("--dry-run") == "would: delete audit events past retention: 3\n"
    assert _ids() == [e.id for e in old + kept]
    assert run() == "did: delete audit events past retention: 3\n"
    assert _ids()[:2] == [e.id for e in kept]
    event = AuditEvent.objects.get(action="retention.audit_purged")
    assert event.actor_type == "system"
    assert event.details["count"] == 3 and event.details["anchor_id"] == kept[0].id
    # Anchored at the oldest remaining event; the retention event itself is sealed on.
    assert f"#{kept[0].id}..#{event.id}" in verify()


def test_the_chain_heads_event_is_kept(db, time_machine):
    events = _record(3, "old")
    verify()
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert services.events_retention() == 2
    assert _ids()[0] == events[-1].id == ChainHead.objects.get().last_id
    # Without the head's event the tail check could not pass before the next seal; it does now and after.
    assert "audit chain OK" in verify("--no-seal")
    _record(1, "new")
    assert "audit chain OK" in verify()


def test_deletion_stops_at_the_first_young_event_in_id_order(db, time_machine):
    start = timezone.now()
    first = services.record("test.old")
    time_machine.move_to(start + timedelta(days=40))
    young = services.record("test.young")
    # A server whose clock lags writes an older timestamp under a higher id.
    time_machine.move_to(start)
    late = services.record("test.late")
    time_machine.move_to(start + timedelta(days=40))
    services.record("test.head")
    verify()
    assert services.events_retention() == 1
    remaining = _ids()
    assert first.id not in remaining and {young.id, late.id} <= set(remaining)
    assert "audit chain OK" in verify()


def test_unsealed_events_are_not_deleted(db, time_machine):
    _record(3, "old")
    time_machine.move_to(timezone.now() + timedelta(days=31))
    assert services.events_retention(dry_run=True) == 0
    assert services.events_retention() == 0
    assert AuditEvent.objects.count() == 3
    assert actions(action="retention.audit_purged") == []


def test_zero_days_keeps_everything(db, settings, time_machine):
    _record(3, "old")
    verify()
    settings.AUDIT_RETENTION_DAYS = 0
    time_machine.move_to(timezone.now() + timedelta(days=3650))
    assert services.events_retention() == 0
    assert "did: delete audit events past retention: 0" in run()
    assert AuditEvent.objects.count() == 3
