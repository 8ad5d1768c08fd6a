from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import User
from adminapi import scopes, selectors, services
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Admin API keys. `create` prints the new key on stdout, once (it is stored only as a hash); `list` "
        "shows prefixes, never keys; `revoke` stops a key at once. Audited as system actions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        create = sub.add_parser("create", help="Create a key and print it (only this once).")
        create.add_argument("--owner", required=True, help="E-mail or username of the owning superuser.")
        create.add_argument("--name", required=True, help="What the key is for (shown in lists).")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=list(scopes.SCOPES),
            dest="scopes",
            help="A scope the key holds; repeat for several.",
        )
        create.add_argument(
            "--expires-days",
            type=int,
            default=90,
            help=f"Days until the key expires (1 to {services.MAX_LIFETIME_DAYS}, default 90).",
        )
        listing = sub.add_parser("list", help="List the keys (prefix, scopes, owner, dates, status).")
        listing.add_argument("--all", action="store_true", help="Include revoked and expired keys.")
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix (cus_…) or id.")
        revoke.add_argument("key", help="The key's prefix or id (never the key itself).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except DomainError as exc:
            fields = exc.details.get("fields", {})
            problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in fields.items())
            raise CommandError(problems or exc.message)

    def _create(self, options: dict[str, Any]) -> None:
        owner = User.objects.by_login(options["owner"]).first()
        if owner is None:
            raise CommandError(f"No live user {options['owner']!r}.")
        days = options["expires_days"]
        if not 1 <= days <= services.MAX_LIFETIME_DAYS:
            raise CommandError(f"--expires-days must be between 1 and {services.MAX_LIFETIME_DAYS}.")
        created = services.api_key_create(
            owner=owner,
            actor=None,
            name=options["name"],
            scopes=options["scopes"],
            expires_at=timezone.now() + timedelta(days=days),
        )
        api_key = created.api_key
        # The key alone on stdout (KEY=$(manage.py apikeys create …)); what it is on stderr.
        self.stderr.write(
            f"Created {api_key.prefix} ({api_key.name}) for {owner.email}: {', '.join(api_key.scopes)}; "
            f"expires {api_key.expires_at:%Y-%m-%d %H:%M} UTC. The key is printed only this once."
        )
        self.stdout.write(created.secret)

    def _list(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        rows = [("prefix", "name", "owner", "scopes", "created", "expires", "last used", "status")]
        for api_key in selectors.api_keys_list():
            status = api_key.status_at(now)
            if status in ("revoked", "expired") and not options["all"]:
                continue
            rows.append(
                (
                    api_key.prefix,
                    api_key.name,
                    api_key.owner.email,
                    ",".join(api_key.scopes),
                    f"{api_key.created_at:%Y-%m-%d %H:%M}",
                    f"{api_key.expires_at:%Y-%m-%d %H:%M}",
                    f"{api_key.last_used_at:%Y-%m-%d %H:%M}" if api_key.last_used_at else "never",
                    status,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        api_key = selectors.api_key_find(reference=options["key"])
        if api_key is None:
            raise CommandError("No such key: give its prefix (cus_…) or id.")
        if api_key.revoked_at is not None:
            self.stdout.write(f"{api_key.prefix} ({api_key.name}) was already revoked.")
            return
        services.api_key_revoke(api_key=api_key, actor=None)
        self.stdout.write(f"Revoked {api_key.prefix} ({api_key.name}).")
