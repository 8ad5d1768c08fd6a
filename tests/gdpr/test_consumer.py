"""A real huey consumer process (not immediate mode): SQLite storage on the SQLite run, Redis when REDIS_URL is
set. The consumer shares the test database (transactional tests commit for real) and the media folder; its
mails are files in its VAR_DIR/mail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from gdpr.models import DataRequest
from tests.conftest import assert_error
from tests.gdpr.helpers import body, token_from, verify_zip

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(django_settings.BASE_DIR)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Consumer:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "-w", "2", "-k", "thread", "-n", "-m", "0.3", "-C"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def mails(self) -> list[str]:
        folder = Path(self.env["VAR_DIR"]) / "mail"
        return [p.read_text(errors="replace") for p in sorted(folder.glob("*"))] if folder.exists() else []


@pytest.fixture
def consumer_factory(settings: Any, tmp_path: Path) -> Iterator[Callable[..., Consumer]]:
    """Builds consumers sharing one queue; points this process's huey at that queue (not immediate)."""
    from huey.contrib.djhuey import HUEY

    var_dir = tmp_path / "var"
    var_dir.mkdir()
    name = f"custodian-gdpr-test-{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("REDIS_URL", "")
    saved = (HUEY.storage, HUEY._immediate)
    if redis_url:
        from huey.storage import PriorityRedisStorage

        storage: Any = PriorityRedisStorage(name, url=redis_url)
    else:
        from huey.storage import SqliteStorage

        storage = SqliteStorage(name, filename=str(var_dir / "huey.sqlite3"))
    HUEY._immediate = False
    HUEY.storage = storage
    consumers: list[Consumer] = []

    def make(**overrides: str) -> Consumer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=_database_url(),
            DB_CONN_MAX_AGE="0",
            VAR_DIR=str(var_dir),
            MEDIA_ROOT=settings.MEDIA_ROOT,
            SECRET_KEY=settings.SECRET_KEY,
            AUDIT_HMAC_KEY=settings.AUDIT_HMAC_KEY,
            FRONTEND_URL=settings.FRONTEND_URL,
            HUEY_NAME=name,
            HUEY_IMMEDIATE="false",
            DEBUG="false",
            PYTHONUNBUFFERED="1",
        )
        env.pop("EMAIL_URL", None)  # the embedded default: mail files in VAR_DIR/mail
        if redis_url:
            env["REDIS_URL"] = redis_url
        else:
            env.pop("REDIS_URL", None)
        env.update(overrides)
        consumer = Consumer(env, tmp_path / "consumer.log")
        consumers.append(consumer)
        return consumer

    yield make
    for consumer in consumers:
        consumer.stop()
    storage.flush_all()
    HUEY.storage, HUEY._immediate = saved


def _wait(predicate: Callable[[], Any], timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    detail = log.read_text()[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


def _ready_mails(consumer: Consumer) -> list[str]:
    return [m for m in consumer.mails() if "Subject: Your data export is ready" in m]


def test_export_end_to_end_with_real_consumer(api, user, login, consumer_factory, time_machine, tmp_path):
    consumer = consumer_factory()
    consumer.start()
    access = login()["access"]
    api.call("put", "/me/consents/marketing_email", {"granted": True}, token=access)
    r = api.call("post", "/gdpr/requests", {"type": "export"}, token=access)
    assert r.status_code == 202, r.content
    request_id = r.json()["id"]

    def ready() -> Any:
        got = api.call("get", f"/gdpr/requests/{request_id}", token=access).json()
        return got if got["status"] == "ready" else None

    got = _wait(ready, 90, "the export", tmp_path / "consumer.log")
    assert got["progress"] == 100
    mails = _wait(lambda: _ready_mails(consumer), 30, "the ready mail", tmp_path / "consumer.log")
    assert len(mails) == 1
    token = token_from(mails[0].replace("=\n", ""))
    assert token_from(got["download"]["url"]) == token

    first = None
    for _ in range(3):
        response = api.call("get", f"/gdpr/exports/{token}")
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
        content = body(response)
        manifest, _ = verify_zip(content)
        first = first or content
        assert content == first
    assert manifest["files"]["consents.csv"]["rows"] == 1
    ready_event = AuditEvent.objects.get(action="gdpr.export_ready")
    built_before = AuditEvent.objects.filter(subject_id=user.pk, id__lt=ready_event.id).count()
    assert manifest["files"]["audit_events.jsonl"]["rows"] == built_before >= 4
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")

    # A second export, left to expire.
    r = api.call("post", "/gdpr/requests", {"type": "export"}, token=access)
    second_id = r.json()["id"]
    _wait(lambda: DataRequest.objects.get(pk=second_id).status == "ready", 90, "the second export")
    _wait(lambda: len(_ready_mails(consumer)) == 2, 30, "the second mail")
    consumer.stop()
    second_token = token_from(
        next(m for m in _ready_mails(consumer) if token not in m.replace("=\n", "")).replace("=\n", "")
    )
    path = DataRequest.objects.get(pk=second_id).export_file.storage_path
    assert default_storage.exists(path)
    time_machine.move_to(timezone.now() + timezone.timedelta(days=7, minutes=1))
    assert_error(api.call("get", f"/gdpr/exports/{second_token}"), 410, "export_gone")
    call_command("gdpr_purge_exports")
    assert not default_storage.exists(path)
    assert_error(api.call("get", f"/gdpr/exports/{second_token}"), 410, "export_gone")
    assert set(DataRequest.objects.filter(type="export").values_list("status", flat=True)) == {"expired"}


def test_killed_consumer_sweeper_finishes_export(api, user, login, consumer_factory, tmp_path):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor_type="user", actor_id=user.pk, subject_id=user.pk, action="test.filler", details={"n": i}
        )
        for i in range(3000)
    )
    slow = {"GDPR_EXPORT_CHUNK_SIZE": "100", "GDPR_EXPORT_CHUNK_DELAY": "0.15", "GDPR_LEASE_SECONDS": "3"}
    consumer = consumer_factory(**slow)
    consumer.start()
    access = login()["access"]
    request_id = api.call("post", "/gdpr/requests", {"type": "export"}, token=access).json()["id"]

    def midway() -> bool:
        row = DataRequest.objects.get(pk=request_id)
        return row.status == "running" and 10 <= row.progress < 60

    _wait(midway, 90, "the export to be under way", tmp_path / "consumer.log")
    consumer.kill()
    row = DataRequest.objects.get(pk=request_id)
    assert row.status == "running" and row.attempts == 1
    # huey delivered the task once and it died with the worker: nothing will finish it on its own.
    _wait(
        lambda: DataRequest.objects.get(pk=request_id).lease_until < timezone.now(),
        10,
        "the lease to run out",
    )

    restarted = consumer_factory(**slow)
    restarted.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(django_settings, "GDPR_LEASE_SECONDS", 3)
        call_command("gdpr_requeue_stuck")
    _wait(
        lambda: DataRequest.objects.get(pk=request_id).status == "ready",
        90,
        "the sweeper's run",
        tmp_path / "consumer.log",
    )
    row = DataRequest.objects.get(pk=request_id)
    assert row.attempts == 2
    with default_storage.open(row.export_file.storage_path, "rb") as fh:
        content = fh.read()
    manifest, _ = verify_zip(content)
    assert manifest["files"]["audit_events.jsonl"]["rows"] >= 3000
    time.sleep(2)  # let any duplicate mail task surface
    _wait(lambda: _ready_mails(restarted), 30, "the ready mail")
    assert len(_ready_mails(restarted)) == 1
    history = list(row.history.values_list("to_status", flat=True))
    assert history[0] == "pending" and history[-1] == "ready" and "running" in history
