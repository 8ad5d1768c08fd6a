"""What the console keeps in a staff member's Django session about how they signed in, and the one place a
console login is completed. The checks themselves are the accounts services' (the API's): this module only
remembers their outcome for the console's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import selectors as account_selectors
from accounts.models import User
from core import i18n

# The login's amr (RFC 8176 values, as the API's sessions record) and when it passed (the console's
# re-authentication window, e.g. for enrolling a first factor right after signing in).
AMR = "console_amr"
AUTHENTICATED_AT = "console_authenticated_at"
# A password login waiting for its second step: the mfa_token (never shown to the browser) and the methods.
PENDING_MFA = "console_mfa_pending"
# A passkey login's challenge token, likewise kept server-side.
PENDING_PASSKEY = "console_passkey_pending"
BACKEND = "accounts.backends.LiveUserBackend"


def complete(request: HttpRequest, user: User, *, amr: Sequence[str]) -> None:
    """Open the console's Django session for a staff member whose login the services passed."""
    request.session.pop(PENDING_MFA, None)
    request.session.pop(PENDING_PASSKEY, None)
    auth.login(request, user, backend=BACKEND)
    request.session[AMR] = list(amr)
    request.session[AUTHENTICATED_AT] = timezone.now().isoformat()


def language_activate(request: HttpRequest, user: User) -> None:
    """The staff member's profile locale, when they have one, for this request: ConsoleLanguageMiddleware
    calls it on every request of a signed-in staff member, and the login's second step once it passed, for
    its flash message. docs/i18n.md."""
    tag = account_selectors.user_locale(user.pk)
    if tag:
        language = i18n.language_for(tag)
        translation.activate(language)
        request.LANGUAGE_CODE = language


def second_factor_added(request: HttpRequest) -> None:
    """After the staff member enrolled a factor and proved it with a code in this session."""
    amr = list(request.session.get(AMR, []))
    request.session[AMR] = amr + [value for value in ("otp", "mfa") if value not in amr]


def amr(request: HttpRequest) -> list[str]:
    return list(request.session.get(AMR, []))


def authenticated_at(request: HttpRequest) -> datetime | None:
    value = request.session.get(AUTHENTICATED_AT)
    return datetime.fromisoformat(value) if value else None


def needs_second_factor(request: HttpRequest) -> bool:
    """CONSOLE_REQUIRE_MFA: a signed-in staff member whose login (or enrollment) used no second factor, or
    who has none any more (their MFA was reset since)."""
    user = request.user
    return bool(
        settings.CONSOLE_REQUIRE_MFA
        and user.is_authenticated
        and user.is_staff
        and ("mfa" not in amr(request) or not user.mfa_enabled)  # type: ignore[union-attr]
    )


def next_url(request: HttpRequest, candidate: str | None, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
