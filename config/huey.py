"""huey wiring: the embedded default's SQLite queue, made to start without its file.

huey's SqliteStorage creates its tables when it is constructed, that is when Django loads the huey app, so an
unwritable queue file (a full or read-only disk, a path that cannot exist) would stop every web process from
starting. The outbox does not need the queue to accept a change (the queue only carries the relay's kick), so
here a queue that cannot be opened is logged and retried on its next use instead, and the web keeps serving.

The queue file is written with `synchronous=NORMAL` (WAL mode): a commit is not flushed to the disk, so a power
loss may forget the last tasks queued, but never corrupts the file. What the queue carries can be lost that
way: a relay kick (the periodic relay delivers the rows, which are in the database) and a data-request job
(the sweeper re-queues it). A flush per enqueue would cost every request that publishes a few milliseconds.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import huey
from huey import storage

logger = logging.getLogger(__name__)


class SqliteStorage(storage.SqliteStorage):
    def initialize_schema(self) -> None:
        try:
            self.conn  # noqa: B018 -- opening the connection creates the tables (below)
        except sqlite3.Error as exc:
            logger.error(
                "huey: queue file %s cannot be opened (%s); retrying on its next use", self.filename, exc
            )

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        # Idempotent DDL (`create … if not exists`), once per connection, so a queue file that becomes
        # writable after start-up gets its tables on first use.
        conn.execute(self.begin_sql)
        try:
            for sql in self.ddl:
                conn.execute(sql)
        except BaseException:
            conn.rollback()
            conn.close()
            raise
        conn.commit()
        return conn


class SqliteHuey(huey.SqliteHuey):
    storage_class = SqliteStorage
