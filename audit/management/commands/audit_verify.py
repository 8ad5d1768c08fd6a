from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import services


class Command(BaseCommand):
    help = (
        "Seal new audit events into the hash chain, then verify every remaining event's HMAC and the chain "
        "links. Exits non-zero and names the first broken link when the log was tampered with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-seal", action="store_true", help="Only verify; report unsealed events as pending."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_seal"]:
            sealed = services.events_seal()
            self.stdout.write(f"sealed {sealed} new event(s)")
        report = services.chain_verify()
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{report.broken_id}: {report.reason} "
                f"({report.checked} event(s) read, {report.sealed} verified before it)"
            )
        if report.sealed == 0:
            self.stdout.write(
                self.style.SUCCESS(f"audit chain OK: no sealed events ({report.pending} pending)")
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain OK: {report.sealed} sealed event(s) #{report.first_id}..#{report.last_sealed_id} "
                f"verified, anchored at the oldest remaining event (prev_hash {report.anchor[:12] or 'genesis'})"
            )
        )
        if report.pending:
            self.stdout.write(f"{report.pending} newer event(s) not sealed yet (content checked)")
