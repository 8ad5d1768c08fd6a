from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.models import User

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
