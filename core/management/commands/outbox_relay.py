"""`manage.py outbox_relay`: deliver every due outbox row in this process, without the queue.

For operators (drain the backlog after a broker outage, or where no consumer runs) and for tests that need a
relay they can kill. Rows that another relay holds under a live lease are not due; they are left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import outbox


class Command(BaseCommand):
    help = "Deliver every due outbox row now (in this process), then print the counts and the backlog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="rows claimed at a time")

    def handle(self, *args: Any, batch_size: int | None = None, **options: Any) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        total = outbox.RelayResult()
        while True:
            result = outbox.relay(batch_size=batch_size)
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            if not result.claimed:
                break
        backlog = outbox.backlog()
        self.stdout.write(
            f"claimed {total.claimed}, delivered {total.delivered}, retrying {total.retrying}, "
            f"failed {total.failed}, lost {total.lost}, released {total.released}"
        )
        self.stdout.write(
            f"backlog: pending {backlog.pending}, failed {backlog.failed}, "
            f"oldest pending {backlog.oldest_pending_seconds} s"
        )
