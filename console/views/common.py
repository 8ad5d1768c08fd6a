from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from core.errors import DomainError


class StaffRequest(HttpRequest):
    """What a console view gets behind staff_required: a signed-in staff user and django-htmx's details."""

    user: User
    htmx: HtmxDetails


def page_size() -> int:
    return int(settings.CONSOLE_PAGE_SIZE)


def render_page(
    request: StaffRequest,
    template: str,
    context: dict[str, Any],
    *,
    partials: frozenset[str] = frozenset(),
    status: int = 200,
) -> HttpResponse:
    """The full page, or for an htmx request aimed at one of `partials` (its element id), just that partial."""
    target = request.htmx.target if request.htmx else None
    name = f"{template}#{target}" if target in partials else template
    return render(request, name, context, status=status)


def run_action(
    request: StaffRequest,
    action: Callable[[], str],
    *,
    redirect_to: str,
    partial: Callable[[int], HttpResponse],
    page: Callable[[int], HttpResponse] | None = None,
) -> HttpResponse:
    """Run one service call; its success message or its DomainError's message is shown to the staff member.
    An htmx POST gets the updated partial (with the error's status on failure), a plain POST a redirect, or on
    failure, given `page`, the whole page with the error's status (a refusal stays a 403)."""
    status = 200
    try:
        messages.success(request, action())
    except DomainError as exc:
        messages.error(request, str(exc.message))
        status = exc.status
    if request.htmx:
        return partial(status)
    if status != 200 and page is not None:
        return page(status)
    return redirect(redirect_to)


def bad_form(request: StaffRequest, template: str, context: dict[str, Any], partial: str) -> HttpResponse:
    messages.error(request, gettext("Please correct the input."))
    if request.htmx:
        return render(request, f"{template}#{partial}", context, status=400)
    return render(request, template, context, status=400)
