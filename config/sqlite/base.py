"""Django's SQLite backend with writers queued on a file lock instead of SQLite's busy handler.

SQLite lets one writer in at a time. A transaction that finds the write lock taken sleeps in SQLite's busy
handler for 1, 2, 5, 10 … ms between retries, so with two or more worker processes most of a short write's
latency is sleeping (the refresh benchmark in docs/deployment.md measured ~30% of worker time there). Here
every transaction (`atomic()`, which begins IMMEDIATE) first takes an exclusive flock on `<database>.lock`:
the kernel wakes the next writer the moment the lock is released. SQLite's own locking stays in force
underneath (autocommit writes outside `atomic()` still use it), so this changes waiting, never safety.
A lock held by a process that dies is released by the kernel. In-memory databases have no file to lock.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from django.db.backends.sqlite3 import base


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
            return super()._commit()  # type: ignore[misc]
        finally:
            self._write_lock_release()

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
