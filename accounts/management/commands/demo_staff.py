from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services

DEMO_EMAIL = "staff@custodian.local"


class Command(BaseCommand):
    help = "Create (or reset) the demo staff account of the embedded default and print its login."

    def handle(self, *args: Any, **options: Any) -> None:
        password_file = settings.VAR_DIR / "demo-staff-password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(12))
        password = password_file.read_text().strip()
        services.staff_demo_ensure(email=DEMO_EMAIL, password=password)
        self.stdout.write(
            f"Demo staff login: {DEMO_EMAIL} / {password}  (console: /console/, admin: /admin/)"
        )
