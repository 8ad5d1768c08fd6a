from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import RevokeReason, Session, User
from audit import selectors as audit_selectors
from console import forms, selectors
from console.decorators import staff_required
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action

DETAIL = "console/user_detail.html"
SESSIONS_SHOWN = 50


@require_GET
@staff_required
def users(request: StaffRequest) -> HttpResponse:
    form = forms.UserSearchForm(request.GET)
    context: dict[str, Any] = {"form": form, "page": None}
    if not form.is_valid():
        return bad_form(request, "console/users.html", context, "results")
    query = form.cleaned_data["q"]
    context["page"] = selectors.page_of(
        account_selectors.user_search(query=query, status=form.cleaned_data["status"]),
        number=form.cleaned_data["page"] or 1,
        size=page_size(),
    )
    return render_page(request, "console/users.html", context, partials=frozenset({"results"}))


def _detail_context(request: StaffRequest, user: User) -> dict[str, Any]:
    paging = forms.PageForm({"page": request.GET.get("trail_page") or 1})
    number = paging.cleaned_data["page"] if paging.is_valid() else 1
    return {
        "subject": user,
        "profile": getattr(user, "profile", None),
        "sessions": list(account_selectors.session_list(user=user, include_ended=True)[:SESSIONS_SHOWN]),
        "social_accounts": list(selectors.social_accounts(user=user)),
        "data_requests": selectors.data_requests(user=user),
        "trail": selectors.page_of(
            audit_selectors.events_for_subject(subject_id=user.pk), number=number, size=page_size()
        ),
    }


@require_GET
@staff_required
def user_detail(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    return render_page(
        request, DETAIL, _detail_context(request, user), partials=frozenset({"detail", "trail"})
    )


def _user_action(request: StaffRequest, user: User, action: Any) -> HttpResponse:
    def partial(status: int) -> HttpResponse:
        user.refresh_from_db()
        return render_page(request, f"{DETAIL}#detail", _detail_context(request, user), status=status)

    return run_action(request, action, redirect_to=reverse("console:user", args=[user.pk]), partial=partial)


@require_POST
@staff_required
def session_revoke(request: StaffRequest, user_id: uuid.UUID, session_id: uuid.UUID) -> HttpResponse:
    session = get_object_or_404(Session, pk=session_id, user_id=user_id)

    def action() -> str:
        account_services.session_revoke(session=session, actor=request.user, reason=RevokeReason.REVOKED)
        return "The session has ended."

    return _user_action(request, session.user, action)


@require_POST
@staff_required
def logout_all(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        count = account_services.sessions_revoke_all(
            user=user,
            actor=request.user,
            reason=RevokeReason.FORCE_LOGOUT,
        )
        return f"Logged out everywhere: {count} session(s) ended."

    return _user_action(request, user, action)


@require_POST
@staff_required
def verification_resend(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        account_services.email_verification_send(user=user, actor=request.user)
        return f"A new verification link is on its way to {user.email}."

    return _user_action(request, user, action)


@require_POST
@staff_required
def deactivate(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = forms.OptionalReasonForm(request.POST)
    if not form.is_valid():
        return bad_form(request, DETAIL, {**_detail_context(request, user), "reason_form": form}, "detail")

    def action() -> str:
        account_services.user_deactivate(
            user=user,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        return "The account is deactivated and every session ended."

    return _user_action(request, user, action)


@require_POST
@staff_required
def reactivate(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        account_services.user_reactivate(user=user, actor=request.user)
        return "The account is active again."

    return _user_action(request, user, action)
