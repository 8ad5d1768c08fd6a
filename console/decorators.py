"""Access rules of the console: anonymous → the login page, signed-in non-staff → 403, and a page whose
permission the staff member lacks → 403. An action's own permission, the rank rule and their audit are the
services' (accounts.services.staff), so every door enforces them alike."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext
from django_htmx.http import HttpResponseClientRedirect

View = TypeVar("View", bound=Callable[..., HttpResponse])

APPROVER_PERMISSION = "gdpr.approve_erasure"
VIEW_USERS = "accounts.view_user"
VIEW_AUDIT = "audit.view_auditevent"


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "console/403.html", {"message": message}, status=403)


def staff_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            target = f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}"
            # An htmx call would swap the login page into a fragment; send the whole window there instead.
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(target)
            return HttpResponseRedirect(target)
        if not user.is_staff:
            return _forbidden(request, gettext("The console is for staff only."))
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def permission_required(permission: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        @staff_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(permission):
                return _forbidden(request, gettext("You do not have the permission this action needs."))
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
