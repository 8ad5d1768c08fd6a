"""System checks of settings that belong to no app (run by manage.py check and at startup)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


def public_api_url_problems(value: str) -> list[str]:
    if not value:
        return []
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return [f"PUBLIC_API_URL={value!r} must be an absolute http(s) URL, e.g. https://api.example.com."]
    if parts.query or parts.fragment:
        return [f"PUBLIC_API_URL={value!r} must have no query or fragment."]
    return []


@register()
def public_api_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="config.E001") for problem in public_api_url_problems(settings.PUBLIC_API_URL)]


@register(deploy=True)
def public_api_url_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.PUBLIC_API_URL:
        return []
    return [
        Warning(
            "PUBLIC_API_URL is not set: export download links in mails use FRONTEND_URL's origin, while the "
            "API answers with the request's own host.",
            hint="Set PUBLIC_API_URL to the public base URL of this API, e.g. https://api.example.com.",
            id="config.W001",
        )
    ]
