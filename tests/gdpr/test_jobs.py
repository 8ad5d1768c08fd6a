"""Periodic jobs and their --dry-run management commands; leases and the sweeper."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from gdpr import services, tasks
from gdpr.models import DataRequest, ExportFile
from tests.conftest import actions


def run(name, *args, capture=None):
    out = StringIO()
    if capture is not None:
        with capture(execute=True):
            call_command(name, *args, stdout=out)
    else:
        call_command(name, *args, stdout=out)
    return out.getvalue()


def _export(user):
    return DataRequest.objects.create(user=user, type="export", status="pending")


def test_export_job_runs_once(user, django_capture_on_commit_callbacks):
    request = _export(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.export_run(data_request_id=request.pk) is not None
        # A duplicate delivery finds the request done.
        assert services.export_run(data_request_id=request.pk) is None
    assert ExportFile.objects.count() == 1
    assert len([m for m in mail.outbox if m.subject == "Your data export is ready"]) == 1


def test_running_request_with_live_lease_is_not_taken(user):
    request = _export(user)
    DataRequest.objects.filter(pk=request.pk).update(
        status="running", lease_owner="abc", lease_until=timezone.now() + timedelta(minutes=5)
    )
    assert services.export_run(data_request_id=request.pk) is None
    assert services.requests_requeue_stuck() == []


def test_job_that_lost_its_lease_discards_its_file(user, settings):
    from gdpr.services import common, export_build

    request = _export(user)
    claimed = common.claim(request.pk, "export")
    built = export_build.archive_build(data_request=claimed, user=user)
    assert default_storage.exists(built.storage_path)
    # Meanwhile the sweeper gave the request to another job.
    DataRequest.objects.filter(pk=request.pk).update(lease_owner="someone-else")
    assert export_build.export_finish(data_request=claimed, user=user, built=built) is None
    assert not default_storage.exists(built.storage_path)
    assert not ExportFile.objects.exists()


def test_sweeper_requeues_dead_job_and_dry_run_changes_nothing(user, django_capture_on_commit_callbacks):
    request = _export(user)
    DataRequest.objects.filter(pk=request.pk).update(
        status="running", lease_owner="dead", lease_until=timezone.now() - timedelta(seconds=1), attempts=1
    )
    out = run("gdpr_requeue_stuck", "--dry-run")
    assert f"would: re-queue requests stuck past their lease (request ids): 1\n  {request.pk}" in out
    assert DataRequest.objects.get(pk=request.pk).status == "running"
    out = run("gdpr_requeue_stuck", capture=django_capture_on_commit_callbacks)
    assert "did: re-queue requests stuck past their lease (request ids): 1" in out
    request.refresh_from_db()
    assert request.status == "ready" and request.attempts == 2
    assert "gdpr.request_requeued" in actions()


def test_sweeper_requeues_lost_pending_task(user, time_machine, django_capture_on_commit_callbacks):
    request = _export(user)
    assert services.requests_requeue_stuck(dry_run=True) == []
    time_machine.move_to(timezone.now() + timedelta(minutes=6))
    run("gdpr_requeue_stuck", capture=django_capture_on_commit_callbacks)
    assert DataRequest.objects.get(pk=request.pk).status == "ready"


def test_purge_exports_dry_run_and_stale_partials(
    user, time_machine, django_capture_on_commit_callbacks, settings
):
    request = _export(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.export_run(data_request_id=request.pk)
    export_file = ExportFile.objects.get()
    partial = default_storage.save(f"{settings.GDPR_EXPORT_DIR}/.partial/dead.zip", ContentFile(b"PK half"))
    assert run("gdpr_purge_exports", "--dry-run").startswith("would: delete expired or used-up exports")
    time_machine.move_to(timezone.now() + timedelta(days=8))
    out = run("gdpr_purge_exports", "--dry-run")
    assert ": 2\n" in out and str(request.pk) in out and partial in out
    assert default_storage.exists(export_file.storage_path) and default_storage.exists(partial)
    run("gdpr_purge_exports")
    assert not default_storage.exists(export_file.storage_path) and not default_storage.exists(partial)
    assert not ExportFile.objects.exists()
    assert actions(action="gdpr.export_purged") == ["gdpr.export_purged"]


def test_used_up_export_is_purged(user, django_capture_on_commit_callbacks):
    request = _export(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.export_run(data_request_id=request.pk)
    ExportFile.objects.update(downloads_left=0)
    assert services.exports_purge_expired() == [str(request.pk)]
    assert DataRequest.objects.get(pk=request.pk).status == "expired"


def test_periodic_tasks_are_scheduled():
    from datetime import datetime

    from huey.contrib.djhuey import HUEY

    def due(hour, minute):
        return {t.name for t in HUEY.read_periodic(datetime(2026, 1, 1, hour, minute))}

    assert due(12, 0) >= {"requests_requeue_stuck", "erasures_run_due", "exports_purge_expired"}
    assert due(12, 1) & {"erasures_run_due", "exports_purge_expired"} == set()
    assert "sessions_purge" in due(3, 17)
    assert "audit_retention" in due(3, 37)


@pytest.mark.parametrize("task", ["export_build", "erasure_execute"])
def test_tasks_with_unknown_ids_do_nothing(db, task):
    import uuid

    getattr(tasks, task).call_local(str(uuid.uuid4()))
    assert not DataRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_build_once(user):
    """Several consumers handed the same request: the claim lets exactly one build it."""
    import threading

    from django.db import connection

    request = DataRequest.objects.create(user=user, type="export", status="pending")
    barrier = threading.Barrier(4)
    results = []

    def work():
        try:
            barrier.wait(10)
            results.append(services.export_run(data_request_id=request.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 4
    assert sum(r is not None for r in results) == 1
    assert ExportFile.objects.count() == 1
    assert DataRequest.objects.get(pk=request.pk).attempts == 1
    assert len([m for m in mail.outbox if m.subject == "Your data export is ready"]) == 1


def test_sweeper_gives_up_after_max_attempts(user, settings, django_capture_on_commit_callbacks):
    settings.GDPR_MAX_ATTEMPTS = 3
    request = _export(user)
    DataRequest.objects.filter(pk=request.pk).update(
        status="running", lease_owner="dead", lease_until=timezone.now() - timedelta(seconds=1), attempts=3
    )
    run("gdpr_requeue_stuck", capture=django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.status == "failed" and request.attempts == 3
    assert not ExportFile.objects.exists()
    assert "gdpr.export_failed" in actions()
