"""What every console response gets: security headers (pages, partials, login, 403s, 404s, CSRF failures), and
the console's own 404 and 403 pages in place of Django's (which show a debug page with DEBUG, or the site-wide
error pages, outside the console's layout)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import auth
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers
from django_htmx.http import HttpResponseClientRedirect

from console import signin

PREFIX = "/console/"

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


def not_found(request: HttpRequest) -> HttpResponse:
    # An htmx request gets the message alone, for the element it aimed at; anything else the whole page.
    template = "console/404.html#message" if getattr(request, "htmx", False) else "console/404.html"
    return render(request, template, status=404)


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "console/403.html", {"message": message}, status=403)


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class ConsoleLanguageMiddleware:
    """The console speaks the signed-in staff member's language: the locale of their profile when it names a
    shipped language (any other tag falls back to English), else what LocaleMiddleware chose from
    Accept-Language (the login page, a staff member without a locale). docs/i18n.md."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if request.path.startswith(PREFIX) and user is not None and user.is_authenticated:
            signin.language_activate(request, user)
        return self.get_response(request)


class ConsoleSecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PREFIX):
            return response
        # A console address that matches no URL. (A view's own 404 arrives through process_exception; a
        # 404 a view rendered itself, such as an htmx partial with an error, is left as it is.)
        if response.status_code == 404 and not _resolves(request.path_info):
            response = not_found(request)
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

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Http404 (get_object_or_404) and PermissionDenied raised by a console view: the console's pages,
        with or without DEBUG."""
        if not request.path.startswith(PREFIX):
            return None
        if isinstance(exception, Http404):
            return not_found(request)
        if isinstance(exception, PermissionDenied):
            return forbidden(request, str(exception))
        return None


class StaffMfaMiddleware:
    """CONSOLE_REQUIRE_MFA for every console and admin URL: a staff member signed in without a second factor
    goes to the TOTP enrollment when they have none (and nowhere else until it is done), or back to the
    login when they have one (a session opened before it was added, or by a door that does not ask for it).
    """

    PREFIXES = (PREFIX, "/admin/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.open = frozenset(
            reverse(name)
            for name in (
                "console:mfa_setup",
                "console:logout",
                "console:login",
                "console:login_mfa",
                "console:login_mfa_key",
                "console:passkey_options",
                "console:passkey_verify",
            )
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            not request.path.startswith(self.PREFIXES)
            or request.path in self.open
            or not signin.needs_second_factor(request)
        ):
            return self.get_response(request)
        if request.user.mfa_enabled:  # type: ignore[union-attr]
            auth.logout(request)
            target = f"{reverse('console:login')}?{urlencode({'next': request.get_full_path()})}"
        else:
            target = reverse("console:mfa_setup")
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)
