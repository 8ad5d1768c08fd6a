"""The one error type of the domain. Each app subclasses it; config/api.py renders it as ErrorOut.

Messages are lazy translations (gettext_lazy): `code` is the stable contract, `message` is rendered in the
language of the request that receives it (docs/i18n.md)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    message: str | Promise = _("The request could not be processed.")

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = _("Not found.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    message = _("Too many requests. Try again later.")

    def __init__(
        self, retry_after: int, message: str | Promise | None = None, *, code: str | None = None
    ) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            code=code,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    message = _("A dependency (database, cache or queue) is not reachable.")


# Every code the generic handlers can produce, with its status. Domain codes live on their error classes
# (each app's errors.py), found by all_codes(); a test checks that docs/api.md lists all of them.
GENERIC_CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request body could not be parsed (malformed JSON) or is not acceptable."),
    "not_authenticated": (401, "No bearer token, or one that is not a valid access token."),
    "forbidden": (403, "Authenticated but not allowed."),
    "not_found": (404, "No such resource (or not yours)."),
    "method_not_allowed": (405, "The path exists but not with this HTTP method."),
    "payload_too_large": (413, "The request body is larger than the configured limit."),
    "unsupported_media_type": (415, "The body's content type is not accepted here."),
    "validation_error": (422, "The input did not validate; details.fields maps each field to its messages."),
    "rate_limited": (429, "Too many requests; wait Retry-After seconds."),
    "server_error": (500, "Unexpected server error; the request id is in details.request_id."),
    "service_unavailable": (503, "Readiness failed: details.checks names the dependency that is down."),
}


def all_codes() -> dict[str, dict[int, str]]:
    """Every error code the API can answer with: code → {status: meaning}.

    GENERIC_CODES, plus every DomainError subclass. The `errors` module of every local app (an installed
    app inside this project's checkout) is imported first, so a class is found without being listed
    anywhere by hand.
    """
    import importlib
    import importlib.util
    from pathlib import Path

    from django.apps import apps
    from django.conf import settings

    base = Path(settings.BASE_DIR).resolve()
    found: dict[str, dict[int, str]] = {}

    def add(code: str, status: int, meaning: str) -> None:
        found.setdefault(code, {}).setdefault(int(status), meaning)

    for code, (status, meaning) in GENERIC_CODES.items():
        add(code, status, meaning)
    local_modules = set()
    for app in apps.get_app_configs():
        path = Path(app.path).resolve()
        if base not in path.parents or ".venv" in path.parts:
            continue
        module_name = f"{app.name}.errors"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name)
        local_modules.add(module_name)

    def walk(cls: type[DomainError]) -> None:
        for sub in cls.__subclasses__():
            # Only apps installed now: a module imported earlier by an app since removed does not count.
            if sub.__module__ in local_modules or sub.__module__ == __name__:
                add(sub.code, sub.status, str(sub.message))
            walk(sub)

    walk(DomainError)
    return found
