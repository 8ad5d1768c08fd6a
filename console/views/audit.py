from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from audit import selectors as audit_selectors
from console import forms, selectors
from console.decorators import staff_required
from console.views.common import StaffRequest, bad_form, page_size, render_page

TEMPLATE = "console/audit.html"


@require_GET
@staff_required
def audit_log(request: StaffRequest) -> HttpResponse:
    form = forms.AuditFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "page": None, "actions": audit_selectors.event_actions()}
    if not form.is_valid():
        return bad_form(request, TEMPLATE, context, "results")
    context["page"] = selectors.page_of(
        audit_selectors.events_search(**form.filters()),
        number=form.cleaned_data["page"] or 1,
        size=page_size(),
    )
    return render_page(request, TEMPLATE, context, partials=frozenset({"results"}))
