"""The console's home page: what needs a staff member's attention now, and the last 30 days in charts."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import search
from accounts import selectors as account_selectors
from console import charts, selectors
from console.decorators import APPROVER_PERMISSION, staff_required
from console.views.common import StaffRequest, render_page
from core import outbox
from gdpr import selectors as gdpr_selectors

TEMPLATE = "console/home.html"
# Rows of a list on the home page; the full lists are on their own pages.
SHOWN = 10


def _outbox_url() -> str | None:
    # The outbox page is optional: without it the home page shows the counts only.
    try:
        return reverse("console:outbox")
    except NoReverseMatch:
        return None


def attention_context(request: StaffRequest) -> dict[str, Any]:
    """The "needs attention" part of the home page (also what a cancel from the home page re-renders)."""
    return {
        "awaiting": search.total_of(gdpr_selectors.erasure_queue()),
        "scheduled": selectors.page_of(gdpr_selectors.erasures_scheduled(), number=1, size=SHOWN),
        "failed_exports": selectors.page_of(gdpr_selectors.exports_failed(), number=1, size=SHOWN),
        "outbox": outbox.backlog(),
        "outbox_url": _outbox_url(),
        "locked": account_selectors.users_locked(),
        "may_decide": request.user.has_perm(APPROVER_PERMISSION),
        "back": "home",
    }


def _charts() -> list[charts.Chart]:
    today = timezone.now().date()
    return [
        charts.chart_build(series, charts.series_counts(series, today=today), today=today)
        for series in charts.SERIES
    ]


@require_GET
@staff_required
def home(request: StaffRequest) -> HttpResponse:
    target = request.htmx.target if request.htmx else None
    context: dict[str, Any] = {}
    if target != "charts":
        context.update(attention_context(request))
    if target != "attention":
        context["charts"] = _charts()
    return render_page(request, TEMPLATE, context, partials=frozenset({"attention", "charts"}))
