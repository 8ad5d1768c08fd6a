"""Django's SQLite backend with writers queued on a file lock instead of SQLite's busy handler.

SQLite lets one writer in at a time. A transaction that finds the write lock taken sleeps in SQLite's busy
handler for 1, 2, 5, 10 … ms between retries, so with two or more worker processes most of a short write's
latency is sleeping (the refresh benchmark in docs/deployment.md measured ~30% of worker time there). Here
every transaction (`atomic()`, which begins IMMEDIATE) first takes an exclusive flock on `<database>.lock`:
the kernel wakes the next writer the moment the lock is released. SQLite's own locking stays in force
underneath (autocommit writes outside `atomic()` still use it), so this changes waiting, never safety.
A lock held by a process that dies is released by the kernel. In-memory databases have no file to lock.

WAL checkpoints are moved out of that lock too. SQLite checkpoints inside the COMMIT that makes the WAL pass
`wal_autocheckpoint` pages, and with `synchronous=NORMAL` a checkpoint syncs the WAL and the database file:
the one write transaction that triggers it held the writers' lock through two fsyncs, and every other
writer waited (in-process, one refresh took 2.4 ms of wall time with SQLite's default of 1000 pages against
0.9 ms with checkpoints out of the way). Here, after a transaction committed and released the lock, a WAL
with SQLITE_CHECKPOINT_PAGES frames or more not yet copied back gets a PASSIVE checkpoint, which never blocks writers or readers; SQLite's
own automatic checkpoint stays on at four times that size as the bound for writes outside `atomic()`.

Opening a connection retries SQLITE_PROTOCOL ("locking protocol") a few times. In WAL mode a new
connection's first read of the WAL index can lose a race with other processes opening, checkpointing or
closing the same database; SQLite gives up after its own short retries with that error, which the busy
timeout does not cover. It is transient (seen under two full test suites and a server sharing two cores),
so the open is tried again after 10, 20, 40, 80 ms, with a warning each time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import sys
import time
from typing import Any

from django.conf import settings
from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)

OPEN_RETRY_DELAYS = (0.01, 0.02, 0.04, 0.08)


class DatabaseWrapper(base.DatabaseWrapper):
    _write_lock_fd: int | None = None

    def _lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        return f"{name}.lock"

    def _write_lock_acquire(self) -> None:
        path = self._lock_path()
        if path is None or self._write_lock_fd is not None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._write_lock_fd = fd

    def _write_lock_release(self) -> None:
        fd, self._write_lock_fd = self._write_lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _start_transaction_under_autocommit(self) -> None:
        self._write_lock_acquire()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._write_lock_release()
            raise

    def _commit(self) -> Any:
        try:
            result = super()._commit()  # type: ignore[misc]
        finally:
            self._write_lock_release()
        self._checkpoint_if_due()
        return result

    def _checkpoint_if_due(self) -> None:
        """A PASSIVE checkpoint once SQLITE_CHECKPOINT_PAGES frames wait in the WAL, outside the writers'
        lock. The count comes from the wal-index header in `<database>-shm` (https://www.sqlite.org/walformat.html:
        mxFrame, the frames in the WAL, at byte 16; nBackfill, those already copied back, at byte 96; native
        byte order): two 4-byte reads, where the WAL file's size would say nothing (it is reused, not shrunk)."""
        path = self._lock_path()
        if path is None or self.connection is None:
            return
        try:
            fd = os.open(f"{path.removesuffix('.lock')}-shm", os.O_RDONLY)
        except OSError:
            return
        try:
            frames = int.from_bytes(os.pread(fd, 4, 16), sys.byteorder)
            backfilled = int.from_bytes(os.pread(fd, 4, 96), sys.byteorder)
        except OSError:
            return
        finally:
            os.close(fd)
        if frames - backfilled < settings.SQLITE_CHECKPOINT_PAGES:
            return
        try:
            self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            logger.warning(
                "SQLite WAL checkpoint failed; SQLite's automatic checkpoint remains", exc_info=True
            )

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        for delay in (*OPEN_RETRY_DELAYS, None):
            try:
                conn = super().get_new_connection(conn_params)
                break
            except sqlite3.OperationalError as exc:
                if delay is None or "locking protocol" not in str(exc):
                    raise
                logger.warning("SQLite connection open hit %r; retrying in %d ms", str(exc), delay * 1000)
                time.sleep(delay)
        if self._lock_path() is not None:
            conn.execute(f"PRAGMA wal_autocheckpoint={int(settings.SQLITE_CHECKPOINT_PAGES) * 4}")
        return conn

    def _rollback(self) -> Any:
        try:
            return super()._rollback()  # type: ignore[misc]
        finally:
            self._write_lock_release()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]
        finally:
            self._write_lock_release()
