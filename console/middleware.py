"""Security headers for every console response (pages, partials, login, 403s, CSRF failures)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

# No inline script or style anywhere in the console: htmx is a static file, its config is a <meta> tag and
# its eval features are off, so 'self' is enough and injected markup cannot run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ConsoleSecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/console/"):
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response["X-Frame-Options"] = "DENY"
            response["Referrer-Policy"] = "same-origin"
            response["X-Content-Type-Options"] = "nosniff"
            response["Cross-Origin-Opener-Policy"] = "same-origin"
            # Pages show personal data: never kept in a shared or back-button cache.
            add_never_cache_headers(response)
            response["Cache-Control"] += ", private"
            # Partials and full pages share URLs; caches must tell them apart.
            response["Vary"] = ", ".join(filter(None, [response.get("Vary", ""), "HX-Request"]))
        return response
