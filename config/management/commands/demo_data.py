from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.demo import generator, services


class Command(BaseCommand):
    help = (
        "Fill a development database with demo users (varied names, profiles with locales, some unverified, "
        "inactive, soft-deleted or staff), their sessions, consents, data requests in every state and the "
        "audit events of all that (sealed into the chain), for the console and the benchmarks. Every demo "
        "user has the password it prints. Refuses when DEBUG is off (--force) and when the database already "
        "holds demo data (--append). 10^5 users took 60-77 s of CPU time on SQLite (docs/console.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=1000, help="How many users to add (default 1000).")
        parser.add_argument(
            "--seed", type=int, default=None, help="Seed of the data (same seed, same data); default: random."
        )
        parser.add_argument("--append", action="store_true", help="Add to the demo data already there.")
        parser.add_argument(
            "--force", action="store_true", help="Run with DEBUG off (never on a production database)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = options["users"]
        if not 1 <= users <= 10_000_000:
            raise CommandError("--users must be between 1 and 10000000.")
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "DEBUG is off, so this may be a production database: demo_data adds users who all share one "
                "published password. Pass --force if this database is meant for demo data."
            )
        seed = options["seed"] if options["seed"] is not None else secrets.randbelow(2**31)
        try:
            report = services.demo_data_create(users=users, seed=seed, append=options["append"])
        except services.DemoDataPresent as exc:
            raise CommandError(f"The database already holds demo data ({exc}); pass --append to add more.")
        last = report.first_number + report.users - 1
        self.stdout.write(
            f"Added {report.users} demo users (numbers {report.first_number}..{last}, --seed {report.seed}) "
            f"in {report.seconds:.1f} s:"
        )
        for name, count in report.counts.items():
            self.stdout.write(f"  {name}: {count}")
        for name, count in sorted(report.requests.items()):
            self.stdout.write(f"  {name}: {count}")
        self.stdout.write(
            self.style.SUCCESS(f"Every demo user's password: {generator.DEMO_PASSWORD}")
            + f"  (staff, console: {report.staff_email}; member: {report.member_email or '-'})"
        )
