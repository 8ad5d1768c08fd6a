"""A relay process killed mid-batch (SIGKILL, between sending a mail and marking it delivered) and run again:
every mail arrives exactly once and every row ends delivered. Runs on the test database of the run (SQLite,
or PostgreSQL when DATABASE_URL is set)."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import mail
from core.models import OutboxMessage
from tests.support.processes import child_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
N = 12
LEASE_SECONDS = 4


def relay_command(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "outbox_relay", "--batch-size", str(N)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def mail_files(var_dir: Path) -> list[Path]:
    folder = var_dir / "mail"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def test_a_relay_killed_mid_batch_and_run_again_sends_each_mail_once(tmp_path, monkeypatch) -> None:
    from huey.contrib.djhuey import HUEY
    from huey.storage import SqliteStorage

    # This process's kicks go to a queue nobody consumes: the relay under test is the only one.
    monkeypatch.setattr(HUEY, "storage", SqliteStorage("kill-test", filename=str(tmp_path / "q.sqlite3")))
    monkeypatch.setattr(HUEY, "_immediate", False)
    with transaction.atomic():
        for i in range(N):
            mail.enqueue(template="welcome", to=f"user{i}@example.com", context={"first_name": f"U{i}"})
    ids = list(OutboxMessage.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) == N

    var_dir = tmp_path / "var"
    env = child_env(
        var_dir,
        DJANGO_SETTINGS_MODULE="tests.support.slow_mail_settings",
        SLOW_MAIL_SECONDS="0.6",
        OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
        HUEY_SQLITE_PATH=str(tmp_path / "q.sqlite3"),
    )
    log = tmp_path / "relay.log"
    relay = relay_command(env, log)
    # Killed right after its third mail was written, while it waits before marking that one delivered.
    wait_for(lambda: len(mail_files(var_dir)) >= 3, 60, "three mails", log)
    os.killpg(relay.pid, signal.SIGKILL)
    relay.wait(10)
    assert relay.returncode == -signal.SIGKILL

    sent = len(mail_files(var_dir))
    delivered = OutboxMessage.objects.filter(status="delivered").count()
    assert 3 <= sent < N
    assert delivered < sent  # at least one mail went out whose row was not marked: the crash window
    held = OutboxMessage.objects.filter(status="pending", lease_owner__gt="")
    assert held.exists()  # the dead relay's claim

    # Run again once the dead relay's lease has run out (until then its rows are not due).
    lease_end = max(held.values_list("available_at", flat=True))
    wait_for(lambda: timezone.now() > lease_end, LEASE_SECONDS + 5, "the lease to run out")
    env["SLOW_MAIL_SECONDS"] = "0"
    again = subprocess.run(
        [sys.executable, "manage.py", "outbox_relay"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"delivered {N - delivered}," in again.stdout
    assert "backlog: pending 0, failed 0" in again.stdout

    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"delivered"}
    files = mail_files(var_dir)
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]
    message_ids = [str(m["Message-ID"]) for m in messages]
    assert sorted(message_ids) == sorted(mail.message_id(i) for i in ids)  # one per row, none twice
    assert Counter(str(m["To"]) for m in messages) == Counter(f"user{i}@example.com" for i in range(N))
    assert not list((var_dir / "mail").glob("*.partial"))
    # The unmarked mail was handed to the backend again and recognised by its Message-ID.
    attempts = Counter((var_dir / "mail-attempts.log").read_text().split())
    assert max(attempts.values()) == 2 and sum(attempts.values()) > N
    # Give a stray process time to write anything more: nothing may appear.
    time.sleep(0.5)
    assert len(mail_files(var_dir)) == N
