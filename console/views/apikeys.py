"""API keys of the admin API: superusers list, create and revoke them. A new key is shown once, in the
answer to the POST that created it: a redirect would have to keep the key somewhere to show it after."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from adminapi import scopes, selectors, services
from adminapi.models import ApiKey
from console import forms
from console import selectors as console_selectors
from console.decorators import staff_required
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action
from core.errors import DomainError

TEMPLATE = "console/apikeys.html"


class ApiKeyForm(django_forms.Form):
    name = django_forms.CharField(max_length=services.NAME_MAX_LENGTH, strip=True)
    scopes = django_forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in scopes.SCOPES], widget=django_forms.CheckboxSelectMultiple
    )
    expires_in_days = django_forms.IntegerField(
        min_value=1, max_value=services.MAX_LIFETIME_DAYS, initial=90, label=gettext_lazy("Expires in (days)")
    )


def superuser_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @staff_required
    def wrapper(request: StaffRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            message = "API keys are managed by superusers only."
            return render(request, "console/403.html", {"message": message}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _context(request: StaffRequest, **extra: Any) -> dict[str, Any]:
    return {
        "page": console_selectors.page_of(selectors.api_keys_list(), number=1, size=page_size()),
        "form": ApiKeyForm(),
        "scopes": scopes.SCOPES,
        **extra,
    }


def _keys(request: StaffRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render_page(request, TEMPLATE, context, partials=frozenset({"keys"}), status=status)


@require_http_methods(["GET", "POST"])
@superuser_required
def api_keys(request: StaffRequest) -> HttpResponse:
    if request.method == "POST":
        return _create(request)
    paging = forms.PageForm(request.GET)
    if not paging.is_valid():
        return bad_form(request, TEMPLATE, {**_context(request), "page": None}, "keys")
    number = paging.cleaned_data["page"] or 1
    page = console_selectors.page_of(selectors.api_keys_list(), number=number, size=page_size())
    return _keys(request, _context(request, page=page))


def _create(request: StaffRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return bad_form(request, TEMPLATE, _context(request, form=form), "keys")
    data = form.cleaned_data
    try:
        created = services.api_key_create(
            owner=request.user,
            actor=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=timezone.now() + timedelta(days=data["expires_in_days"]),
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return _keys(request, _context(request, form=form), status=exc.status)
    return _keys(request, _context(request, created=created), status=201)


@require_POST
@superuser_required
def api_key_revoke(request: StaffRequest, key_id: uuid.UUID) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id)

    def action() -> str:
        services.api_key_revoke(api_key=api_key, actor=request.user)
        return gettext("The key %(prefix)s is revoked; it stops working at once.") % {
            "prefix": api_key.prefix
        }

    return run_action(
        request,
        action,
        redirect_to=reverse("console:api_keys"),
        partial=lambda status: _keys(request, _context(request), status=status),
    )
