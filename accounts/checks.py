"""System checks of the accounts app (run by manage.py check and at startup)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from accounts import jwks, ratelimit


@register()
def rate_limit_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="accounts.E001") for problem in ratelimit.settings_errors()]


@register()
def jwt_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    try:
        jwks.ring_build()
    except ImproperlyConfigured as exc:
        found.append(Error(str(exc), id="accounts.E002"))
    found += [Error(problem, id="accounts.E003") for problem in jwks.issuer_problems(jwks.issuer())]
    if settings.JWT_PUBLIC_KEY and not settings.JWT_PRIVATE_KEY:
        found.append(
            Warning(
                "JWT_PUBLIC_KEY is set without JWT_PRIVATE_KEY: tokens are HS256-signed and the public key "
                "is not used.",
                id="accounts.W001",
            )
        )
    return found
