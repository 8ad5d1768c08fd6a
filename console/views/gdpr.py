from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from console import forms, selectors
from console.decorators import APPROVER_PERMISSION, permission_required, staff_required
from console.views import home
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action
from gdpr import selectors as gdpr_selectors
from gdpr import services as gdpr_services
from gdpr.models import DataRequest, RequestStatus, RequestType

QUEUE = "console/deletions.html"
EXPORTS = "console/exports.html"
HOME = "console/home.html"
# While one of these is on the page, the exports list refreshes itself.
UNDER_WAY = (RequestStatus.PENDING, RequestStatus.RUNNING)


def _queue_context(request: StaffRequest, number: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "page": selectors.page_of(gdpr_selectors.erasure_queue(), number=number, size=page_size()),
        "scheduled": selectors.page_of(gdpr_selectors.erasures_scheduled(), number=1, size=page_size()),
        "may_decide": request.user.has_perm(APPROVER_PERMISSION),
        **extra,
    }


@require_GET
@staff_required
def deletions(request: StaffRequest) -> HttpResponse:
    paging = forms.PageForm(request.GET)
    if not paging.is_valid():
        return bad_form(request, QUEUE, {"page": None, "form": paging}, "queue")
    context = _queue_context(request, paging.cleaned_data["page"] or 1)
    return render_page(request, QUEUE, context, partials=frozenset({"queue", "scheduled"}))


def _erasure(request_id: uuid.UUID) -> DataRequest:
    return get_object_or_404(DataRequest, pk=request_id, type=RequestType.ERASURE)


def _decided(request: StaffRequest, action: Any) -> HttpResponse:
    # An approval moves the request from the queue to the scheduled list: both are sent (the list out of band).
    return run_action(
        request,
        action,
        redirect_to=reverse("console:deletions"),
        partial=lambda status: render_page(
            request, f"{QUEUE}#queue", _queue_context(request, scheduled_oob=True), status=status
        ),
        page=lambda status: render_page(request, QUEUE, _queue_context(request), status=status),
    )


# The decision's service checks gdpr.approve_erasure and the rank rule, and audits a refusal.
@require_POST
@staff_required
def deletion_approve(request: StaffRequest, request_id: uuid.UUID) -> HttpResponse:
    data_request = _erasure(request_id)

    def action() -> str:
        approved = gdpr_services.erasure_approve(data_request=data_request, actor=request.user)
        return gettext("Erasure of %(email)s approved; it runs %(when)s UTC unless cancelled.") % {
            "email": approved.user.email,
            "when": f"{approved.scheduled_for:%Y-%m-%d %H:%M}",
        }

    return _decided(request, action)


@require_POST
@staff_required
def deletion_reject(request: StaffRequest, request_id: uuid.UUID) -> HttpResponse:
    data_request = _erasure(request_id)
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        context = _queue_context(request, reject_failed=data_request.pk)
        return bad_form(request, QUEUE, context, "queue")

    def action() -> str:
        gdpr_services.erasure_reject(
            data_request=data_request,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        return gettext("Erasure request rejected.")

    return _decided(request, action)


@require_POST
@permission_required(APPROVER_PERMISSION)
def erasure_cancel(request: StaffRequest, request_id: uuid.UUID) -> HttpResponse:
    """Cancel a scheduled (or still queued) erasure, with a reason, from the home page or the deletion
    queue; the answer is that page (its partial for htmx)."""
    data_request = _erasure(request_id)
    from_home = request.POST.get("back") == "home" or (request.htmx and request.htmx.target == "attention")

    def context(**extra: Any) -> dict[str, Any]:
        if from_home:
            return {**home.attention_context(request), **extra}
        return _queue_context(request, **extra)

    template, partial = (HOME, "attention") if from_home else (QUEUE, "scheduled")
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        return bad_form(request, template, context(cancel_failed=data_request.pk), partial)

    def action() -> str:
        cancelled = gdpr_services.data_request_cancel(
            data_request=data_request, actor=request.user, reason=form.cleaned_data["reason"]
        )
        return gettext("Erasure of %(email)s cancelled; the account is kept.") % {
            "email": cancelled.user.email
        }

    return run_action(
        request,
        action,
        redirect_to=reverse("console:home" if from_home else "console:deletions"),
        partial=lambda status: render_page(request, f"{template}#{partial}", context(), status=status),
    )


@require_GET
@staff_required
def exports(request: StaffRequest) -> HttpResponse:
    paging = forms.PageForm(request.GET)
    if not paging.is_valid():
        return bad_form(request, EXPORTS, {"page": None, "form": paging}, "results")
    page = selectors.page_of(
        gdpr_selectors.export_requests(), number=paging.cleaned_data["page"] or 1, size=page_size()
    )
    under_way = any(r.status in UNDER_WAY for r in page.items)
    return render_page(
        request, EXPORTS, {"page": page, "under_way": under_way}, partials=frozenset({"results"})
    )
