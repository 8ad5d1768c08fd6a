"""The outbox page: deliveries that failed for good (a mail, a job, another app's reaction), with a retry."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from console import forms, selectors, services
from console.decorators import permission_required, staff_required
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action
from core import outbox

PAGE = "console/outbox.html"
RETRY_PERMISSION = "core.retry_outbox"


def _context(request: StaffRequest, number: int = 1) -> dict[str, Any]:
    return {
        "page": selectors.page_of(outbox.failed(), number=number, size=page_size()),
        "backlog": outbox.backlog(),
        "may_retry": request.user.has_perm(RETRY_PERMISSION),
    }


@require_GET
@staff_required
def outbox_failed(request: StaffRequest) -> HttpResponse:
    paging = forms.PageForm(request.GET)
    if not paging.is_valid():
        return bad_form(request, PAGE, {"page": None, "form": paging}, "failed")
    context = _context(request, paging.cleaned_data["page"] or 1)
    return render_page(request, PAGE, context, partials=frozenset({"failed"}))


@require_POST
@permission_required(RETRY_PERMISSION)
def outbox_retry(request: StaffRequest, message_id: int) -> HttpResponse:
    def action() -> str:
        message = services.outbox_retry(message_id=message_id, actor=request.user)
        return f"Delivery #{message.pk} ({message.topic}) is queued again."

    return run_action(
        request,
        action,
        redirect_to=reverse("console:outbox"),
        partial=lambda status: render_page(request, f"{PAGE}#failed", _context(request), status=status),
    )
