from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.sqlite3 import base as django_sqlite

from accounts.models import User
from config.sqlite import base as ours

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend's own behaviour")


@pytest.mark.django_db(transaction=True)
def test_writers_queue_on_the_file_lock_and_all_commit() -> None:
    order: list[str] = []
    first_in = threading.Event()

    def writer(name: str, hold: float) -> None:
        try:
            with transaction.atomic():
                order.append(f"{name} begin")
                first_in.set()
                User.objects.create(email=f"{name}@example.com")
                time.sleep(hold)
                order.append(f"{name} commit")
        finally:
            connections.close_all()

    a = threading.Thread(target=writer, args=("a", 0.3))
    a.start()
    first_in.wait(5)
    lock_path = f"{connection.settings_dict['NAME']}.lock"
    probe = os.open(lock_path, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # a's transaction holds the writers' file lock
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(probe)
    b = threading.Thread(target=writer, args=("b", 0))
    b.start()
    a.join(10)
    b.join(10)
    # b could not begin while a held the write transaction, and nothing failed with "database is locked"
    assert order == ["a begin", "a commit", "b begin", "b commit"]
    assert User.objects.count() == 2
    assert connection.settings_dict["ENGINE"] == "config.sqlite"
    probe = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once both committed
    finally:
        os.close(probe)


@pytest.mark.django_db(transaction=True)
def test_the_lock_is_released_on_rollback() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create(email="x@example.com")
        raise RuntimeError("roll back")
    assert connection._write_lock_fd is None  # type: ignore[attr-defined]
    with transaction.atomic():
        User.objects.create(email="y@example.com")
    assert list(User.objects.values_list("email", flat=True)) == ["y@example.com"]


@pytest.mark.django_db(transaction=True)
def test_the_wal_is_checkpointed_after_the_commit_outside_the_writers_lock(settings, monkeypatch) -> None:
    from config.sqlite.base import DatabaseWrapper

    settings.SQLITE_CHECKPOINT_PAGES = 1
    lock_path = f"{connection.settings_dict['NAME']}.lock"
    original = DatabaseWrapper._checkpoint_if_due
    seen: list[bool] = []

    def spy(self: DatabaseWrapper) -> None:
        probe = os.open(lock_path, os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the writers' lock is already free
            seen.append(True)
        finally:
            os.close(probe)
        original(self)

    monkeypatch.setattr(DatabaseWrapper, "_checkpoint_if_due", spy)
    with transaction.atomic():
        User.objects.create(email="wal@example.com")
    assert seen == [True]
    # The row is in the database file itself (read ignoring the WAL): the checkpoint copied it back.
    import sqlite3

    name = connection.settings_dict["NAME"]
    with sqlite3.connect(f"file:{name}?mode=ro&immutable=1", uri=True) as raw:
        table = User._meta.db_table
        assert raw.execute(f"SELECT count(*) FROM {table} WHERE email = 'wal@example.com'").fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_sqlites_own_checkpoint_is_the_bound_at_four_times_the_size(settings) -> None:
    connection.close()
    connection.ensure_connection()
    pages = connection.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert pages == settings.SQLITE_CHECKPOINT_PAGES * 4


def _flaky_open(
    monkeypatch: pytest.MonkeyPatch, failures: int, message: str = "locking protocol"
) -> list[int]:
    """Django's own connection open fails `failures` times with `message`, then works; returns the calls."""
    calls: list[int] = []
    real = django_sqlite.DatabaseWrapper.get_new_connection

    def get_new_connection(self, conn_params):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) <= failures:
            raise sqlite3.OperationalError(message)
        return real(self, conn_params)

    monkeypatch.setattr(django_sqlite.DatabaseWrapper, "get_new_connection", get_new_connection)
    monkeypatch.setattr(ours.time, "sleep", lambda _s: None)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_transient_locking_protocol_error_on_open_is_retried(monkeypatch, caplog) -> None:
    calls = _flaky_open(monkeypatch, failures=2)
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_user")
            assert cursor.fetchone() == (0,)
    finally:
        fresh.close()
    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == [
        "SQLite connection open hit 'locking protocol'; retrying in 10 ms",
        "SQLite connection open hit 'locking protocol'; retrying in 20 ms",
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("failures", "message", "tries"), [(99, "locking protocol", 5), (1, "disk I/O error", 1)]
)
def test_a_lasting_or_other_open_error_is_raised(monkeypatch, failures, message, tries) -> None:
    calls = _flaky_open(monkeypatch, failures=failures, message=message)
    fresh = connections.create_connection("default")
    try:
        with pytest.raises(OperationalError, match=message):
            fresh.ensure_connection()
    finally:
        fresh.close()
    assert len(calls) == tries
