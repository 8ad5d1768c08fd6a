"""audit.services.subscribe: a higher app hears of chosen actions inside the change's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit import services
from audit.models import AuditEvent
from audit.services import events as audit_events


@pytest.fixture
def heard(monkeypatch):
    monkeypatch.setattr(audit_events, "_subscribers", {})
    found: list[AuditEvent] = []
    services.subscribe(["test.heard"], found.append)
    services.subscribe(["test.heard"], found.append)  # idempotent
    return found


def test_a_subscriber_gets_its_actions_only_once(db, heard):
    services.record("test.other")
    event = services.record("test.heard", details={"n": 1})
    assert heard == [event]


def test_a_failing_subscriber_fails_the_change(db, monkeypatch):
    monkeypatch.setattr(audit_events, "_subscribers", {})

    def refuse(event: AuditEvent) -> None:
        raise RuntimeError("subscriber broke")

    services.subscribe(["test.heard"], refuse)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record("test.heard")
    assert not AuditEvent.objects.filter(action="test.heard").exists()
