"""The broker is down: a real server (gunicorn, tasks not immediate) still answers every door that owes a side
effect with its normal status, and once the broker is back a new consumer process delivers every owed mail
exactly once and opens the erasure of the account deleted meanwhile.

Two variants: the embedded default (SQLite database, huey on a SQLite queue file that cannot be opened) on
every run, and PostgreSQL + Redis (Redis on a closed port, so the cache is down too and rate limits fail
open) when DATABASE_URL and REDIS_URL are set."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import PASSWORD, requires_postgres, requires_redis
from tests.live.server import ROOT, LiveServer, free_port
from tests.support.processes import database_url, wait_for

API = "/api/v1"

STATE = """
import json
from core import mail
from core.models import OutboxMessage
from gdpr.models import DataRequest
print(json.dumps({
    "message_ids": [mail.message_id(pk) for pk in OutboxMessage.objects.filter(topic="mail.send").values_list("id", flat=True)],
    "outbox": list(OutboxMessage.objects.values("id", "topic", "handler", "status", "attempts")),
    "requests": [
        {"email": r.user.email, "type": r.type, "status": r.status, "source": r.source}
        for r in DataRequest.objects.select_related("user")
    ],
}))
"""

USERS = """
from django.utils import timezone
from accounts.models import User
for email, verified in [("bob@example.com", True), ("carol@example.com", False), ("dave@example.com", True),
                        ("erin@example.com", True)]:
    User.objects.create_user(email=email, password="{password}",
                             email_verified_at=timezone.now() if verified else None)
"""


# Every mail the doors below owe, by recipient (subjects sorted).
EXPECTED_MAILS = {
    "alice@example.com": ["Reset your password", "Verify your e-mail address", "Verify your e-mail address"],
    "bob@example.com": [
        "Security alert: your session was ended",
        "Your account was deleted",
        "Your erasure request was received",
    ],
    "carol@example.com": ["Verify your e-mail address"],
    "dave@example.com": ["Your erasure request was approved", "Your erasure request was received"],
    "erin@example.com": ["Your data export is ready"],
}


class Consumer:
    """`manage.py run_huey` against the server's database and mailbox, with a queue that works."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey", "-w", "2", "-k", "thread", "-m", "0.3", "-C"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Outage:
    def __init__(self, server: LiveServer, consumer_env: dict[str, str]) -> None:
        self.server = server
        self.consumer_env = consumer_env
        self.http = requests.Session()

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, self.server.url + API + path, json=body, headers=headers, timeout=30)

    def state(self) -> dict[str, Any]:
        return json.loads(self.server.manage("shell", "--no-imports", "-c", STATE))

    def user_id(self, email: str) -> str:
        code = f"from accounts.models import User; print(User.objects.get(email='{email}').pk)"
        return self.server.manage("shell", "--no-imports", "-c", code).strip()


def _expect(response: requests.Response, status: int) -> requests.Response:
    assert response.status_code == status, (response.request.method, response.url, response.text[:500])
    return response


def _console(outage: Outage, staff_password: str) -> requests.Session:
    console = requests.Session()
    base = outage.server.url + "/console"
    console.get(f"{base}/login/", timeout=30)
    r = console.post(
        f"{base}/login/",
        data={
            "username": "staff@custodian.local",
            "password": staff_password,
            "csrfmiddlewaretoken": console.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:2000]
    console.headers["X-CSRFToken"] = console.cookies["csrftoken"]
    return console


def run_outage(outage: Outage) -> None:
    server = outage.server
    server.manage("shell", "--no-imports", "-c", USERS.replace("{password}", PASSWORD))
    staff_password = re.search(r"/ (\S+)", server.manage("demo_staff"))[1]  # type: ignore[index]

    # --- the broker is down: every door answers its normal status --------------------------------------
    _expect(outage.api("post", "/auth/register", {"email": "alice@example.com", "password": PASSWORD}), 201)
    _expect(outage.api("post", "/auth/email/resend", {"email": "alice@example.com"}), 202)
    _expect(outage.api("post", "/auth/password/reset", {"email": "alice@example.com"}), 202)

    # Refresh-token reuse (the grace is 0 s here): 401, the session ends and an alert is owed.
    bob = _expect(outage.api("post", "/auth/token", {"login": "bob@example.com", "password": PASSWORD}), 200)
    old_refresh = bob.json()["refresh"]
    _expect(outage.api("post", "/auth/token/refresh", {"refresh": old_refresh}), 200)
    time.sleep(1.1)
    _expect(outage.api("post", "/auth/token/refresh", {"refresh": old_refresh}), 401)

    bob = _expect(outage.api("post", "/auth/token", {"login": "bob@example.com", "password": PASSWORD}), 200)
    _expect(outage.api("delete", "/me", {"password": PASSWORD}, token=bob.json()["access"]), 202)

    erin = _expect(
        outage.api("post", "/auth/token", {"login": "erin@example.com", "password": PASSWORD}), 200
    )
    _expect(outage.api("post", "/gdpr/requests", {"type": "export"}, token=erin.json()["access"]), 202)

    dave = _expect(
        outage.api("post", "/auth/token", {"login": "dave@example.com", "password": PASSWORD}), 200
    )
    erasure = _expect(
        outage.api("post", "/gdpr/requests", {"type": "erasure"}, token=dave.json()["access"]), 202
    ).json()

    # Console actions of a staff member (plain POSTs: each ends in a redirect).
    console = _console(outage, staff_password)
    base = server.url + "/console"
    carol = outage.user_id("carol@example.com")
    for action in ("logout-all", "verification", "deactivate"):
        r = console.post(f"{base}/users/{carol}/{action}/", data={}, allow_redirects=False, timeout=30)
        assert r.status_code == 302 and r.headers["Location"] == f"/console/users/{carol}/", (action, r.text)
    r = console.post(f"{base}/deletions/{erasure['id']}/approve/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/console/deletions/", r.text

    assert not any(re.search(r'" 5\d\d ', line) for line in server.log().splitlines()), server.log()[-3000:]
    assert "could not queue the relay" in server.log()  # the kicks failed, and said so
    state = outage.state()
    mails_owed = [row for row in state["outbox"] if row["topic"] == "mail.send"]
    assert mails_owed and all(row["status"] == "pending" for row in state["outbox"])
    assert server.mails() == []  # nothing left while the broker was down
    # The erasure of the deleted account is owed (a row), not yet opened.
    assert any(row["topic"] == "accounts.user_soft_deleted" for row in state["outbox"])
    assert not any(r["email"] == "bob@example.com" for r in state["requests"])

    # --- the broker is back: a new consumer delivers everything, once ------------------------------------
    consumer = Consumer(outage.consumer_env, server.dir / "consumer.log")
    try:
        expected = sum(len(subjects) for subjects in EXPECTED_MAILS.values())
        wait_for(lambda: len(server.mails()) >= expected, 120, "the owed mails", consumer.log)
        time.sleep(1.5)  # let a duplicate, if there were one, surface
        state = outage.state()
    finally:
        consumer.stop()

    assert {row["status"] for row in state["outbox"]} == {"delivered"}
    assert all(row["attempts"] == 0 for row in state["outbox"])
    sent = [row["id"] for row in state["outbox"] if row["topic"] == "mail.send"]
    files = sorted((server.mail_dir).glob("*.eml"))
    messages = server.mails()
    assert len(files) == len(messages) == len(sent)
    # One file per owed mail, named by its row's Message-ID: none lost, none twice.
    assert sorted(str(m["Message-ID"]) for m in messages) == sorted(state["message_ids"])
    by_recipient: dict[str, list[str]] = {}
    for message in messages:
        by_recipient.setdefault(str(message["To"]), []).append(str(message["Subject"]))
    assert {to: sorted(subjects) for to, subjects in by_recipient.items()} == EXPECTED_MAILS
    exports = [r for r in state["requests"] if r["type"] == "export"]
    assert [r["status"] for r in exports] == ["ready"]
    # The deleted account's erasure request exists, opened by the relayed event.
    assert {
        "email": "bob@example.com",
        "type": "erasure",
        "status": "awaiting_approval",
        "source": "account_deleted",
    } in state["requests"]


SERVER_ENV = {"REFRESH_REUSE_GRACE_SECONDS": "0"}


def test_broker_down_sqlite(tmp_path: Path) -> None:
    # A path under a regular file cannot be created by anyone, root included.
    with LiveServer(
        log_name="outage-server",
        immediate=False,
        extra_env={**SERVER_ENV, "HUEY_SQLITE_PATH": "/dev/null/huey.sqlite3"},
    ) as server:
        consumer_env = {
            **server.env,
            "HUEY_SQLITE_PATH": str(tmp_path / "huey.sqlite3"),
            "DB_CONN_MAX_AGE": "0",
        }
        run_outage(Outage(server, consumer_env))


@pytest.fixture
def postgres_server(django_db_blocker: Any) -> Iterator[LiveServer]:
    """A server on this run's PostgreSQL test database and a Redis URL nobody listens on."""
    with django_db_blocker.unblock():
        url = database_url()
    yield LiveServer(
        log_name="outage-server",
        immediate=False,
        extra_env={
            **SERVER_ENV,
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "HUEY_NAME": f"outage-{uuid.uuid4().hex[:8]}",
        },
    )


@requires_postgres
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_broker_down_postgres_redis(postgres_server: LiveServer) -> None:
    with postgres_server as server:
        consumer_env = {**server.env, "REDIS_URL": os.environ["REDIS_URL"], "DB_CONN_MAX_AGE": "0"}
        try:
            run_outage(Outage(server, consumer_env))
        finally:
            from huey.storage import PriorityRedisStorage

            PriorityRedisStorage(server.env["HUEY_NAME"], url=os.environ["REDIS_URL"]).flush_all()
