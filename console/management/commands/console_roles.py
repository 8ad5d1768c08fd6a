"""`manage.py console_roles`: create the console's default staff roles (groups) with their permissions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts import services
from console.roles import ROLES


class Command(BaseCommand):
    help = (
        "Create the console's staff roles (Support, Approver) as groups and give them the permissions they "
        "lack. Idempotent; permissions added to a group by hand are kept."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        added = services.staff_roles_ensure(roles=ROLES)
        for name, permissions in added.items():
            change = f"added {', '.join(permissions)}" if permissions else "up to date"
            self.stdout.write(f"{name}: {len(ROLES[name])} permissions ({change})")
