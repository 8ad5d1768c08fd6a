"""Scale-out on PostgreSQL + Redis: two web processes (gunicorn, 2 sync workers each) and two huey consumers
(2 threads each) share the test database and one Redis queue, as N web workers and M consumers do in
production (docs/deployment.md).

- 50 users ask for an export at once over HTTP, spread over both web processes, while 20 approved erasures
  come due (their grace period is moved into the past in the database, not slept through). Every job is also
  delivered a second time (as a lost-then-swept or duplicated task would be) and the due-erasure sweep runs
  twice at once, so the two consumers race for every request: each must be processed exactly once (one
  `running` transition and one started/finished audit event per request), nothing may be lost, and every
  recipient gets each mail exactly once.
- A session revoked through one web process is refused by the other on its very next request.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import connection, connections
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import User
from audit.models import AuditEvent
from gdpr import services as gdpr_services
from gdpr import tasks as gdpr_tasks
from gdpr.models import DataRequest, RequestStatus, RequestType
from tests.conftest import requires_postgres, requires_redis

pytestmark = [requires_postgres, requires_redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(django_settings.BASE_DIR)
EXPORTS, ERASURES = 50, 20
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # Django's file backend appends one message per block


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, tmp: Path, settings: Any) -> None:
        self.tmp = tmp
        self.name = f"custodian-scale-{uuid.uuid4().hex[:8]}"
        self.media = tmp / "media"
        self.media.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_", "EMAIL_"))}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings",  # production settings, like a deployment
            DATABASE_URL=_database_url(),
            REDIS_URL=os.environ["REDIS_URL"],
            HUEY_NAME=self.name,
            HUEY_IMMEDIATE="false",
            HUEY_WORKERS="2",
            CACHE_KEY_PREFIX=self.name,
            SECRET_KEY=settings.SECRET_KEY,
            JWT_SIGNING_KEY=settings.NINJA_JWT["SIGNING_KEY"],
            AUDIT_HMAC_KEY=settings.AUDIT_HMAC_KEY,
            FRONTEND_URL=settings.FRONTEND_URL,
            MEDIA_ROOT=str(self.media),
            ALLOWED_HOSTS="127.0.0.1",
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ports: list[int] = []

    def _start(self, label: str, argv: list[str], var_dir: Path) -> None:
        var_dir.mkdir()
        log = open(self.tmp / f"{label}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, "VAR_DIR": str(var_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append((label, process))

    def start_web(self) -> None:
        port = _free_port()
        label = f"web{len(self.ports) + 1}"
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self._start(
            label,
            [gunicorn, "config.wsgi:application", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning"],
            self.tmp / label,
        )  # fmt: skip
        self.ports.append(port)

    def start_consumer(self) -> None:
        label = f"consumer{sum(1 for name, _ in self.processes if name.startswith('consumer')) + 1}"
        # -n: no periodic tasks (the test runs the sweeps itself); -m: poll the queue at least every 0.2 s.
        argv = [sys.executable, "manage.py", "run_huey", "-w", "2", "-k", "thread", "-n", "-m", "0.2", "-C"]
        self._start(label, argv, self.tmp / label)

    def wait_web_ready(self) -> None:
        for port in self.ports:
            _wait(lambda port=port: _health(port), 60, f"web process on {port}", self.logs())

    def stop(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )

    def mails(self) -> list[tuple[str, str]]:
        """(recipient, subject) of every message any consumer sent."""
        found = []
        for path in sorted(self.tmp.glob("consumer*/mail/*")):
            for block in path.read_bytes().split(MAIL_SEPARATOR):
                if block.strip():
                    message = message_from_bytes(block.strip(b"\n"))
                    found.append((message["To"], str(make_header(decode_header(message["Subject"])))))
        return found


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _http(port: int, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _wait(predicate: Callable[[], Any], timeout: float, what: str, logs: str | Callable[[], str] = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    detail = logs() if callable(logs) else logs
    raise AssertionError(f"timed out waiting for {what}\n{detail}")


@pytest.fixture
def cluster(settings: Any, tmp_path: Path) -> Iterator[Cluster]:
    """Two web processes and two consumers; this process's huey enqueues to their queue (not immediate)."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import PriorityRedisStorage

    settings.MEDIA_ROOT = str(tmp_path / "media")
    cluster = Cluster(tmp_path, settings)
    saved = (HUEY.storage, HUEY._immediate)
    HUEY.storage = PriorityRedisStorage(cluster.name, url=os.environ["REDIS_URL"])
    HUEY._immediate = False
    try:
        cluster.start_web()
        cluster.start_web()
        cluster.start_consumer()
        cluster.start_consumer()
        cluster.wait_web_ready()
        yield cluster
    finally:
        cluster.stop()
        HUEY.storage.flush_all()
        HUEY.storage, HUEY._immediate = saved


def _users(prefix: str, n: int) -> list[User]:
    now = timezone.now()
    return [
        User.objects.create_user(email=f"{prefix}{i}@example.com", password=None, email_verified_at=now)
        for i in range(n)
    ]


def _token(user: User) -> str:
    _, pair = accounts_services.session_open(user=user, via="password")
    return pair.access


def _statuses(data_request: DataRequest) -> list[str]:
    return list(data_request.history.order_by("id").values_list("to_status", flat=True))


def _events(action: str, data_request: DataRequest) -> int:
    return AuditEvent.objects.filter(action=action, details__request_id=str(data_request.pk)).count()


def test_two_web_processes_and_two_consumers_process_each_request_exactly_once(cluster: Cluster) -> None:
    started = time.monotonic()
    approver = User.objects.create_user(email="grace@example.com", password=None, is_staff=True)
    approver.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    approver = User.objects.get(pk=approver.pk)

    # 20 erasures: requested, approved, then their grace period moved into the past.
    erasure_users = _users("erase", ERASURES)
    erasure_emails = {u.email for u in erasure_users}
    erasures = [
        gdpr_services.data_request_create(user=u, actor=u, type=RequestType.ERASURE) for u in erasure_users
    ]
    for data_request in erasures:
        gdpr_services.erasure_approve(data_request=data_request, actor=approver)
    DataRequest.objects.filter(pk__in=[r.pk for r in erasures]).update(
        scheduled_for=timezone.now() - timedelta(minutes=1)
    )

    export_users = _users("export", EXPORTS)
    tokens = [_token(u) for u in export_users]

    def ask_export(i: int) -> int:
        status, _ = _http(cluster.ports[i % 2], "POST", "/gdpr/requests", tokens[i], {"type": "export"})
        return status

    def sweep_due() -> None:
        try:
            gdpr_services.erasures_enqueue_due()
        finally:
            connections.close_all()

    # Everything at once: 50 export requests over HTTP to both web processes, and two due-erasure sweeps.
    sweeps = [threading.Thread(target=sweep_due) for _ in range(2)]
    with ThreadPoolExecutor(EXPORTS) as pool:
        for sweep in sweeps:
            sweep.start()
        statuses = list(pool.map(ask_export, range(EXPORTS)))
    for sweep in sweeps:
        sweep.join()
    assert statuses == [202] * EXPORTS, statuses
    exports = list(DataRequest.objects.filter(type=RequestType.EXPORT))
    assert len(exports) == EXPORTS
    # A second delivery of every job (what the sweeper or a retried enqueue produces): must be a no-op.
    for data_request in exports:
        gdpr_tasks.export_build(str(data_request.pk))
    for data_request in erasures:
        gdpr_tasks.erasure_execute(str(data_request.pk))

    def all_done() -> bool:
        done = (
            DataRequest.objects.filter(type=RequestType.EXPORT, status=RequestStatus.READY).count()
            + DataRequest.objects.filter(type=RequestType.ERASURE, status=RequestStatus.COMPLETED).count()
        )
        return done == EXPORTS + ERASURES

    _wait(all_done, 90, "every export ready and every erasure completed", cluster.logs)
    expected_mails = EXPORTS + 3 * ERASURES  # export ready; erasure requested, approved, completed
    _wait(lambda: len(cluster.mails()) >= expected_mails, 30, "the mails", cluster.logs)
    from huey.contrib.djhuey import HUEY

    _wait(lambda: HUEY.pending_count() == 0, 30, "the queue to drain", cluster.logs)
    time.sleep(1.5)  # the duplicates taken last get the time to (not) do anything

    # Exactly once: one `running` transition, one started and one finished event per request; none lost.
    assert DataRequest.objects.count() == EXPORTS + ERASURES
    for data_request in DataRequest.objects.filter(type=RequestType.EXPORT):
        assert _statuses(data_request) == ["pending", "running", "ready"], data_request.pk
        assert data_request.attempts == 1
        assert _events("gdpr.export_started", data_request) == 1
        assert _events("gdpr.export_ready", data_request) == 1
        assert (cluster.media / data_request.export_file.storage_path).is_file()
    for data_request in DataRequest.objects.filter(type=RequestType.ERASURE):
        assert _statuses(data_request) == ["awaiting_approval", "approved", "running", "completed"]
        assert data_request.attempts == 1
        assert _events("gdpr.erasure_started", data_request) == 1
        assert _events("gdpr.erasure_completed", data_request) == 1
    assert not User.objects.filter(email__in=erasure_emails).exists()  # erased for real

    # No duplicate mails: every (recipient, subject) exactly once, and every recipient got theirs.
    mails = Counter(cluster.mails())
    assert [m for m, n in mails.items() if n > 1] == []
    ready = {to for to, subject in mails if subject == "Your data export is ready"}
    assert ready == {u.email for u in export_users}
    erased = {to for to, subject in mails if subject == "Your personal data has been erased"}
    assert erased == erasure_emails
    assert sum(mails.values()) == expected_mails, sorted(mails.items())
    assert time.monotonic() - started < 100


def test_a_session_revoked_on_one_web_process_is_refused_by_the_other(cluster: Cluster) -> None:
    [user] = _users("ada", 1)
    sessions = [accounts_services.session_open(user=user, via="password") for _ in range(3)]
    first, second, third = (pair.access for _, pair in sessions)
    web1, web2 = cluster.ports
    for port in (web1, web2):  # both processes have served (and could have cached) every session
        for token in (first, second, third):
            assert _http(port, "GET", "/me", token)[0] == 200

    # Logout through web 1: web 2 refuses the token on its very next request.
    assert _http(web1, "POST", "/auth/logout", first)[0] == 204
    status, body = _http(web2, "GET", "/me", first)
    assert (status, body["code"]) == (401, "session_revoked")

    # Revoking another of one's sessions through web 2: web 1 refuses it at once; the third lives on.
    second_id = str(sessions[1][0].pk)
    assert _http(web2, "DELETE", f"/me/sessions/{second_id}", third)[0] == 204
    status, body = _http(web1, "GET", "/me", second)
    assert (status, body["code"]) == (401, "session_revoked")
    assert _http(web1, "GET", "/me", third)[0] == 200 and _http(web2, "GET", "/me", third)[0] == 200
