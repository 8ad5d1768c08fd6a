from __future__ import annotations

import itertools
import threading
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit import services, tasks
from audit.admin import AuditEventAdmin
from audit.models import AuditEvent, ChainHead
from tests.conftest import requires_postgres


@pytest.fixture(autouse=True)
def _no_lag(settings):
    settings.AUDIT_SEAL_LAG_SECONDS = 0


def _events(n: int, subject: uuid.UUID | None = None) -> list[AuditEvent]:
    subject = subject or uuid.uuid4()
    return [services.record(f"test.event_{i}", subject=subject, details={"i": i}) for i in range(n)]


def verify(*args: str) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def verify_broken(*args: str) -> str:
    with pytest.raises(CommandError) as exc:
        verify(*args)
    assert exc.value.returncode == 1
    return str(exc.value)


def sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def test_clean_empty_database_verifies(db):
    assert "audit chain OK" in verify()


def test_verify_seals_then_passes(db):
    events = _events(5)
    out = verify()
    assert "sealed 5 new event(s)" in out
    assert f"#{events[0].id}..#{events[-1].id}" in out
    rows = list(AuditEvent.objects.order_by("id"))
    assert rows[0].prev_hash == ""
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
        assert after.hash == services.chain_link(after.prev_hash, after.row_hash, after.id)
    assert ChainHead.objects.get().last_id == events[-1].id
    # A second run seals nothing new and still passes.
    assert "sealed 0 new event(s)" in verify()


def test_sealing_continues_the_chain(db):
    _events(3)
    verify()
    later = _events(2)
    verify()
    rows = list(AuditEvent.objects.order_by("id"))
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert ChainHead.objects.get().last_hash == AuditEvent.objects.get(pk=later[-1].id).hash


def test_row_edited_in_sql_is_found(db):
    events = _events(5)
    verify()
    sql("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", events[2].id])
    message = verify_broken("--no-seal")
    assert f"BROKEN at event #{events[2].id}" in message
    assert "content does not match" in message


def test_details_edited_before_sealing_is_found(db):
    events = _events(3)
    sql("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"i": 99}', events[1].id])
    assert f"BROKEN at event #{events[1].id}" in verify_broken()


def test_deleted_middle_row_is_found(db):
    events = _events(5)
    verify()
    sql("DELETE FROM audit_auditevent WHERE id = %s", [events[2].id])
    message = verify_broken()
    assert f"BROKEN at event #{events[3].id}" in message
    assert f"(#{events[1].id})" in message


def test_deleted_tail_is_found(db):
    events = _events(4)
    verify()
    sql("DELETE FROM audit_auditevent WHERE id >= %s", [events[2].id])
    assert f"BROKEN at event #{events[3].id}" in verify_broken("--no-seal")


def test_rewritten_link_is_found(db):
    events = _events(3)
    verify()
    sql("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["0" * 64, events[1].id])
    assert f"BROKEN at event #{events[1].id}" in verify_broken("--no-seal")


def test_unsealed_row_inside_the_chain_is_found(db):
    events = _events(3)
    verify()
    sql("UPDATE audit_auditevent SET hash = '', prev_hash = '' WHERE id = %s", [events[1].id])
    assert f"BROKEN at event #{events[1].id}" in verify_broken("--no-seal")


def test_retention_of_the_oldest_events_still_verifies(db):
    events = _events(6)
    verify()
    # What the retention job does: the oldest events go; the chain is anchored at the oldest remaining one.
    sql("DELETE FROM audit_auditevent WHERE id <= %s", [events[2].id])
    out = verify()
    assert f"#{events[3].id}..#{events[-1].id}" in out


def test_pseudonymised_events_still_verify(db):
    subject = uuid.uuid4()
    _events(2)
    mine = _events(3, subject=subject)
    verify()
    assert services.events_pseudonymise(subject_id=subject) == 3
    _events(1)
    assert "audit chain OK" in verify()
    redacted = AuditEvent.objects.get(pk=mine[1].id)
    assert redacted.subject_id == services.pseudonym(subject) and redacted.redaction_hash
    # An edit of the pseudonymised content is still caught (by redaction_hash).
    sql("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", mine[1].id])
    assert f"BROKEN at event #{mine[1].id}" in verify_broken()


def test_young_events_wait_for_the_lag(db, settings):
    settings.AUDIT_SEAL_LAG_SECONDS = 3600
    _events(2)
    out = verify()
    assert "sealed 0 new event(s)" in out
    assert "2 pending" in out
    assert not AuditEvent.objects.exclude(hash="").exists()


def test_no_seal_reports_pending(db):
    _events(2)
    verify()
    _events(1)
    out = verify("--no-seal")
    assert "1 newer event(s) not sealed yet" in out


def test_periodic_task_seals(db, settings):
    from datetime import datetime

    from huey.contrib.djhuey import HUEY

    due = HUEY.read_periodic(datetime(2026, 1, 1, 12, 0))
    assert any(t.name == "audit_seal" for t in due)
    _events(3)
    tasks.audit_seal.call_local()
    assert not AuditEvent.objects.filter(hash="").exists()
    assert services.chain_verify().ok


def test_events_are_append_only(db):
    event = _events(1)[0]
    event.action = "test.changed"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    admin = AuditEventAdmin(AuditEvent, None)
    assert not admin.has_add_permission(None)
    assert not admin.has_change_permission(None, event)
    assert not admin.has_delete_permission(None, event)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_never_interleave():
    _events(300)
    errors: list[BaseException] = []

    def seal() -> None:
        try:
            services.events_seal(lag_seconds=0, batch_size=50)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=seal) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = services.chain_verify()
    assert report.ok, report.reason
    assert report.sealed == 300
