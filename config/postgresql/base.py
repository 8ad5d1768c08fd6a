"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a persistent connection before the first query of every request by
sending `SELECT 1`: one more round trip per request (on GET /me, one of two). Here an idle connection is
checked on its socket instead: a server that ended the session (restart, pg_terminate_backend, idle timeout)
sends its FATAL message and closes the socket, so the socket of a dead connection is readable while a live
idle one has nothing to read. Readable, closed or not idle: unusable, and Django reconnects, as it does after
a failed `SELECT 1`. What this cannot see is a peer that vanished without a word (a cut network path); such a
connection fails its first query, as every connection without health checks does.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
