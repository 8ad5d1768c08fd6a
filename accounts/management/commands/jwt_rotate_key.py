from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts import jwks


def _env_line(name: str, pem: str) -> str:
    # One line per value, newlines as `\n` escapes (config/settings.py turns them back), single-quoted for
    # shells and .env files.
    return f"{name}='{pem.strip()}'".replace("\n", "\\n")


class Command(BaseCommand):
    help = (
        "Generate a new RS256 signing key pair and print the environment values that rotate to it: the new "
        "JWT_PRIVATE_KEY/JWT_PUBLIC_KEY and the current public key as JWT_PREVIOUS_PUBLIC_KEY, so tokens "
        "signed before the switch keep verifying. Changes nothing itself (docs/deployment.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bits", type=int, choices=(2048, 3072, 4096), default=jwks.MIN_RSA_BITS)

    def handle(self, *args: Any, **options: Any) -> None:
        rotation = jwks.rotation_prepare(bits=options["bits"])
        days = settings.REFRESH_TOKEN_DAYS
        out = [
            "# Custodian JWT key rotation. Set these on every web process at once, then restart them.",
            f"# New signing key, kid {rotation.kid}:",
            _env_line("JWT_PRIVATE_KEY", rotation.private_pem),
            _env_line("JWT_PUBLIC_KEY", rotation.public_pem),
        ]
        out.append(
            "# Rolling deploy: first deploy JWT_PREVIOUS_PUBLIC_KEY set to the JWT_PUBLIC_KEY above, alone, so "
            "every process knows the new key before it signs (docs/deployment.md)."
        )
        if rotation.previous_public_pem:
            out += [
                f"# The current key, kid {rotation.previous_kid}: verification only. Remove it {days} days "
                "(REFRESH_TOKEN_DAYS) after the switch.",
                _env_line("JWT_PREVIOUS_PUBLIC_KEY", rotation.previous_public_pem),
            ]
        if rotation.dropped_kid:
            out.append(
                f"# This replaces the previous key, kid {rotation.dropped_kid}: tokens it signed stop verifying."
                f" Rotate again only {days} days after the last rotation."
            )
        if rotation.from_secret:
            out += [
                "# Tokens are HS256-signed now. To keep live sessions, also set JWT_PREVIOUS_SIGNING_KEY to the",
                "# key they are signed with (JWT_SIGNING_KEY, or SECRET_KEY when that is unset); remove it "
                f"{days} days later.",
            ]
        self.stdout.write("\n".join(out))
