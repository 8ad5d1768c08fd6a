from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class RetentionCommand(BaseCommand):
    """A job that can report what it would do (--dry-run) instead of doing it."""

    what = "items"

    def job(self, *, dry_run: bool) -> int | list[str]:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be done; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        result = self.job(dry_run=dry_run)
        count = result if isinstance(result, int) else len(result)
        verb = "would" if dry_run else "did"
        self.stdout.write(f"{verb}: {self.what}: {count}")
        if not isinstance(result, int):
            for item in result:
                self.stdout.write(f"  {item}")


def command(what: str, job: Callable[..., int | list[str]], doc: str) -> type[RetentionCommand]:
    return type(
        "Command", (RetentionCommand,), {"what": what, "job": lambda self, **kw: job(**kw), "help": doc}
    )
