"""System checks of the accounts app (run by manage.py check and at startup)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from accounts import ratelimit


@register()
def rate_limit_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="accounts.E001") for problem in ratelimit.settings_errors()]
