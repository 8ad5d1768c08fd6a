"""The Django authentication backend: the console's and the admin's logins (and any other caller of
`django.contrib.auth.authenticate`) go through the accounts services, so they share the API login's
live-user lookup, equal timing, lockout counter and audit vocabulary."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils.translation import gettext

from accounts import errors, ratelimit, services
from accounts.models import User

# The doors that sign staff in with a Django session cookie rather than a token pair (URL namespaces).
STAFF_DOORS = frozenset({"console", "admin"})


def door_of(request: HttpRequest | None) -> str:
    """Which login door a request came through: the URL namespace of its view ("console", "admin"), or
    "other" (a caller without a request, such as a script or the test client's login())."""
    match = getattr(request, "resolver_match", None)
    app_name = getattr(match, "app_name", "")
    return app_name if app_name in STAFF_DOORS else "other"


class LiveUserBackend(ModelBackend):
    """Login is an e-mail or a username; only live users match. At the staff doors (console, admin) only
        staff sign in, every attempt counts against the client IP's `login_ip` limit, and a success or failure
    is audited with the door. A locked account or an IP over its limit comes out of `authenticate()` as
    RateLimited, and a staff member with a second factor (the admin's login has no second step) as
    SecondFactorRequired; `accounts.forms.StaffAuthenticationForm` shows either as a form error."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kw: Any
    ) -> User | None:
        login = username or kw.get("email") or kw.get("login")
        if not login or password is None:
            return None
        door = door_of(request)
        try:
            if door == "other":
                return services.credentials_check(login=login, password=password, door=door)
            ratelimit.hit("login_ip", ratelimit.client_ip())
            result = services.staff_login(login=login, password=password, door=door)
        except errors.InvalidCredentials:
            return None
        if isinstance(result, services.MfaRequired):
            # This door has no second step: the console's login has (its Django session is the admin's too).
            raise errors.SecondFactorRequired(
                gettext("This account has a second factor: sign in through the console, then come back.")
            )
        return result

    def get_user(self, user_id: Any) -> User | None:
        # Runs on every request of a Django session: a deleted or deactivated user is signed out at once.
        return User.objects.live().filter(pk=user_id, is_active=True).first()
