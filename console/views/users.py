"""User search, the user page and the support actions on it. Every page needs accounts.view_user; each action
calls the service that the API (or a staff API) calls, which checks the action's own permission and the rank
rule and audits a refusal (accounts.services.staff). A refusal or another DomainError is shown in the page
with its status (403, 409, …): the `detail` partial for htmx, the whole page for a plain POST."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.mfa import selectors as mfa_selectors
from accounts.models import RevokeReason, Session, User
from accounts.social import services as social_services
from audit import selectors as audit_selectors
from console import forms, labels, selectors
from console.decorators import VIEW_USERS, permission_required
from console.views.common import StaffRequest, bad_form, page_size, render_page, run_action
from core.errors import DomainError
from gdpr import services as gdpr_services

DETAIL = "console/user_detail.html"
SESSIONS_SHOWN = 50


@require_GET
@permission_required(VIEW_USERS)
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


def _detail_context(request: StaffRequest, user: User, **extra: Any) -> dict[str, Any]:
    paging = forms.PageForm({"page": request.GET.get("trail_page") or 1})
    number = paging.cleaned_data["page"] if paging.is_valid() else 1
    trail = selectors.page_of(
        audit_selectors.events_for_subject(subject_id=user.pk), number=number, size=page_size()
    )
    trail.items = labels.event_rows(trail.items)
    return {
        "subject": user,
        "profile": getattr(user, "profile", None),
        "sessions": list(account_selectors.session_list(user=user, include_ended=True)[:SESSIONS_SHOWN]),
        "social_accounts": list(selectors.social_accounts(user=user)),
        "data_requests": selectors.data_requests(user=user),
        "lockout": account_selectors.lockout_state(user=user),
        "authenticators": mfa_selectors.authenticators_export(user=user),
        # Buttons show only where the rank rule lets this staff member act at all (the services decide).
        "outranked": not account_services.staff_may_act_on(actor=request.user, target=user),
        "own": user.pk == request.user.pk,
        "trail": trail,
        **extra,
    }


@require_GET
@permission_required(VIEW_USERS)
def user_detail(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    return render_page(
        request, DETAIL, _detail_context(request, user), partials=frozenset({"detail", "trail"})
    )


def _detail(request: StaffRequest, user: User, *, status: int = 200, whole: bool = False) -> HttpResponse:
    """The user page after an action: its `detail` partial for htmx, else (`whole`) the whole page."""
    user.refresh_from_db()
    template = DETAIL if whole or not request.htmx else f"{DETAIL}#detail"
    return render(request, template, _detail_context(request, user), status=status)


def _user_action(request: StaffRequest, user: User, action: Callable[[], str]) -> HttpResponse:
    """Run one service call. Success: its message, in the partial (htmx) or after a redirect. A DomainError
    (a refusal: 403 forbidden or insufficient_rank; a conflict: 409): its message in the page, with its
    status."""
    return run_action(
        request,
        action,
        redirect_to=reverse("console:user", args=[user.pk]),
        partial=lambda status: _detail(request, user, status=status),
        page=lambda status: _detail(request, user, status=status, whole=True),
    )


def _reason(request: StaffRequest) -> str | None:
    """The required reason of a support action, or None after queueing the form's error message."""
    form = forms.ReasonForm(request.POST)
    if form.is_valid():
        return str(form.cleaned_data["reason"])
    for error in form["reason"].errors:
        messages.error(request, str(error))
    return None


def _reasoned_user_action(
    request: StaffRequest, user_id: uuid.UUID, action: Callable[[User, str], str]
) -> HttpResponse:
    """A support action that needs a reason: 422 without one (nothing done), else `_user_action`."""
    user = get_object_or_404(User, pk=user_id)
    reason = _reason(request)
    if reason is None:
        return _bad_reason(request, user)
    return _user_action(request, user, lambda: action(user, reason))


def _bad_reason(request: StaffRequest, user: User) -> HttpResponse:
    return _detail(request, user, status=400)


@require_POST
@permission_required(VIEW_USERS)
def session_revoke(request: StaffRequest, user_id: uuid.UUID, session_id: uuid.UUID) -> HttpResponse:
    session = get_object_or_404(Session.objects.select_related("user"), pk=session_id, user_id=user_id)

    def action() -> str:
        account_services.session_revoke(session=session, actor=request.user, reason=RevokeReason.REVOKED)
        return gettext("The session has ended.")

    return _user_action(request, session.user, action)


@require_POST
@permission_required(VIEW_USERS)
def logout_all(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        count = account_services.sessions_revoke_all(
            user=user,
            actor=request.user,
            reason=RevokeReason.FORCE_LOGOUT,
        )
        return ngettext(
            "Logged out everywhere: %(count)d session ended.",
            "Logged out everywhere: %(count)d sessions ended.",
            count,
        ) % {"count": count}

    return _user_action(request, user, action)


@require_POST
@permission_required(VIEW_USERS)
def verification_resend(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        account_services.email_verification_send(user=user, actor=request.user)
        return gettext("A new verification link is on its way to %(email)s.") % {"email": user.email}

    return _user_action(request, user, action)


@require_POST
@permission_required(VIEW_USERS)
def deactivate(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    form = forms.OptionalReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Keep the reason to 500 characters."))
        return _bad_reason(request, user)

    def action() -> str:
        account_services.user_deactivate(
            user=user,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
        return gettext("The account is deactivated and every session ended.")

    return _user_action(request, user, action)


@require_POST
@permission_required(VIEW_USERS)
def reactivate(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)

    def action() -> str:
        account_services.user_reactivate(user=user, actor=request.user)
        return gettext("The account is active again.")

    return _user_action(request, user, action)


@require_POST
@permission_required(VIEW_USERS)
def password_reset_send(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    def action(user: User, reason: str) -> str:
        account_services.password_reset_link_send(user=user, actor=request.user, reason=reason)
        return gettext("A password-reset link is on its way to %(email)s.") % {"email": user.email}

    return _reasoned_user_action(request, user_id, action)


@require_POST
@permission_required(VIEW_USERS)
def lockout_clear(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    def action(user: User, reason: str) -> str:
        account_services.lockout_clear(user=user, actor=request.user, reason=reason)
        return gettext("The sign-in lock is cleared and the failed passwords are forgotten.")

    return _reasoned_user_action(request, user_id, action)


@require_POST
@permission_required(VIEW_USERS)
def mfa_reset(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    def action(user: User, reason: str) -> str:
        account_services.mfa_reset(actor=request.user, user=user, reason=reason)
        return gettext(
            "Every second factor and recovery code of this user is removed; the owner has been told."
        )

    return _reasoned_user_action(request, user_id, action)


@require_POST
@permission_required(VIEW_USERS)
def restore(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    def action(user: User, reason: str) -> str:
        account_services.user_restore(user=user, actor=request.user, reason=reason)
        return gettext("The account is restored and its erasure cancelled; the owner has been told.")

    return _reasoned_user_action(request, user_id, action)


@require_POST
@permission_required(VIEW_USERS)
def social_unlink(request: StaffRequest, user_id: uuid.UUID, account_id: int) -> HttpResponse:
    user = get_object_or_404(User, pk=user_id)
    account = get_object_or_404(SocialAccount, pk=account_id, user=user)
    reason = _reason(request)
    if reason is None:
        return _bad_reason(request, user)

    def action() -> str:
        social_services.social_account_unlink(
            user=user, account_id=account.pk, actor=request.user, reason=reason
        )
        return gettext("The %(provider)s account is unlinked.") % {"provider": account.provider}

    return _user_action(request, user, action)


@require_POST
@permission_required(VIEW_USERS)
def consent_history(request: StaffRequest, user_id: uuid.UUID) -> HttpResponse:
    """Reading the ledger is audited with a reason, so it is a POST; it answers with the page itself (the
    `consents` partial for htmx) holding the history, or the refusal."""
    user = get_object_or_404(User, pk=user_id)
    history, status = None, 400
    reason = _reason(request)
    if reason is not None:
        try:
            history = gdpr_services.consent_history_disclose(user=user, actor=request.user, reason=reason)
            status = 200
        except DomainError as exc:
            messages.error(request, str(exc.message))
            status = exc.status
    context = _detail_context(request, user, consent_history=history, consents_alone=bool(request.htmx))
    template = f"{DETAIL}#consents" if request.htmx else DETAIL
    return render(request, template, context, status=status)
