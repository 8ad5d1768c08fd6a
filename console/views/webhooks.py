"""Webhook endpoints in the console: list and create, edit, rotate the secret, send a test event, see
recent deliveries and replay one. Every page and action needs integrations.manage_webhooks.

Creating an endpoint and rotating its secret answer the POST with the page itself (no redirect): the
secret is shown that once, and a redirect would have to park it somewhere (session, messages cookie)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import selectors, webhook_forms
from console.decorators import permission_required
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action
from core.errors import DomainError
from integrations import selectors as webhook_selectors
from integrations import services as webhook_services
from integrations.models import WebhookDelivery, WebhookEndpoint

LIST = "console/webhooks.html"
DETAIL = "console/webhook_detail.html"
MANAGE = webhook_services.MANAGE_PERMISSION


def _list_context(form: webhook_forms.EndpointForm | None = None) -> dict[str, Any]:
    return {
        "endpoints": list(webhook_selectors.endpoint_list()),
        "form": form or webhook_forms.EndpointForm(initial={"enabled": True}),
    }


def _detail_context(request: StaffRequest, endpoint: WebhookEndpoint, **extra: Any) -> dict[str, Any]:
    filters = webhook_forms.DeliveryFilterForm(request.GET)
    status, number = "", 1
    if filters.is_valid():
        status, number = filters.cleaned_data["status"] or "", filters.cleaned_data["page"] or 1
    return {
        "endpoint": endpoint,
        "edit_form": webhook_forms.EndpointForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "event_types": endpoint.event_types,
                "enabled": endpoint.enabled,
            }
        ),
        "rotate_form": webhook_forms.RotateForm(
            initial={"grace_hours": settings.WEBHOOKS_SECRET_GRACE_HOURS}
        ),
        "filters": filters,
        "counts": webhook_selectors.delivery_counts(endpoint=endpoint),
        "deliveries": selectors.page_of(
            webhook_selectors.deliveries_of(endpoint=endpoint, status=status), number=number, size=page_size()
        ),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@permission_required(MANAGE)
def webhooks(request: StaffRequest) -> HttpResponse:
    if request.method == "GET":
        return render_page(request, LIST, _list_context())
    form = webhook_forms.EndpointForm(request.POST)
    if not form.is_valid():
        return bad_form(request, LIST, _list_context(form), "create")
    try:
        endpoint, secret = webhook_services.endpoint_create(actor=request.user, **form.cleaned_data)
    except DomainError as exc:
        form.add_domain_error(exc)
        return bad_form(request, LIST, _list_context(form), "create")
    messages.success(
        request, gettext("Endpoint created. Copy its signing secret now: it is not shown again.")
    )
    return render_page(request, DETAIL, _detail_context(request, endpoint, secret=secret), status=201)


def _endpoint(endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=endpoint_id)


@require_GET
@permission_required(MANAGE)
def webhook_detail(request: StaffRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    return render_page(
        request, DETAIL, _detail_context(request, endpoint), partials=frozenset({"deliveries"})
    )


@require_POST
@permission_required(MANAGE)
def webhook_edit(request: StaffRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    form = webhook_forms.EndpointForm(request.POST)
    if form.is_valid():
        try:
            webhook_services.endpoint_update(endpoint=endpoint, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, gettext("Endpoint saved."))
            return redirect(reverse("console:webhook", args=[endpoint.pk]))
    return bad_form(request, DETAIL, _detail_context(request, endpoint, edit_form=form), "settings")


@require_POST
@permission_required(MANAGE)
def webhook_rotate(request: StaffRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    form = webhook_forms.RotateForm(request.POST)
    if not form.is_valid():
        return bad_form(request, DETAIL, _detail_context(request, endpoint, rotate_form=form), "settings")
    secret = webhook_services.endpoint_secret_rotate(
        endpoint=endpoint, actor=request.user, grace_hours=form.cleaned_data["grace_hours"]
    )
    messages.success(request, gettext("New signing secret. Copy it now: it is not shown again."))
    return render_page(request, DETAIL, _detail_context(request, endpoint, secret=secret))


@require_POST
@permission_required(MANAGE)
def webhook_delete(request: StaffRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    webhook_services.endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, gettext("Endpoint %(url)s deleted.") % {"url": endpoint.url})
    return redirect(reverse("console:webhooks"))


def _deliveries_action(request: StaffRequest, endpoint: WebhookEndpoint, action: Any) -> HttpResponse:
    return run_action(
        request,
        action,
        redirect_to=reverse("console:webhook", args=[endpoint.pk]),
        partial=lambda status: render_page(
            request, f"{DETAIL}#deliveries", _detail_context(request, endpoint), status=status
        ),
    )


@require_POST
@permission_required(MANAGE)
def webhook_test(request: StaffRequest, endpoint_id: uuid.UUID) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)

    def action() -> str:
        delivery = webhook_services.endpoint_test_send(endpoint=endpoint, actor=request.user)
        return gettext("Test event %(id)s queued.") % {"id": delivery.event.webhook_id}

    return _deliveries_action(request, endpoint, action)


@require_POST
@permission_required(MANAGE)
def delivery_replay(request: StaffRequest, endpoint_id: uuid.UUID, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("event"), pk=delivery_id, endpoint=endpoint
    )

    def action() -> str:
        webhook_services.delivery_replay(delivery=delivery, actor=request.user)
        return gettext("Delivery of %(id)s queued again.") % {"id": delivery.event.webhook_id}

    return _deliveries_action(request, endpoint, action)
