from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from audit import selectors as audit_selectors
from console import forms, labels, selectors
from console.decorators import VIEW_AUDIT, permission_required
from console.views.common import StaffRequest, bad_form, page_size, render_page

TEMPLATE = "console/audit.html"


@require_GET
@permission_required(VIEW_AUDIT)
def audit_log(request: StaffRequest) -> HttpResponse:
    form = forms.AuditFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "page": None, "actions": audit_selectors.event_actions()}
    if not form.is_valid():
        return bad_form(request, TEMPLATE, context, "results")
    page = selectors.page_of(
        audit_selectors.events_search(**form.filters()),
        number=form.cleaned_data["page"] or 1,
        size=page_size(),
    )
    page.items = labels.event_rows(page.items)
    context["page"] = page
    return render_page(request, TEMPLATE, context, partials=frozenset({"results"}))
