"""The console's doors: password login (the one credential check, accounts.services.staff_login), its
second step for staff with a second factor (the API's check, services.staff_login_mfa: a code, or a security
key's answer through console/static/console/passkey.js), passwordless login
with a passkey (services.staff_login_passkey; JSON endpoints called by console/static/console/passkey.js),
the TOTP enrollment CONSOLE_REQUIRE_MFA walks staff through, and logout."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import auth, messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts import errors, ratelimit, services
from accounts import forms as accounts_forms
from accounts.mfa import selectors as mfa_selectors
from console import forms, signin
from console.decorators import staff_required
from console.views.common import StaffRequest
from core.errors import DomainError, RateLimited

DOOR = "console"


def _invalid_login() -> str:
    return gettext(
        "Please enter a correct e-mail or username and password. Note that both fields may be case-sensitive."
    )


def _next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next")
    return signin.next_url(request, candidate, reverse("console:home"))


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated and request.user.is_staff and not signin.needs_second_factor(request):
        return redirect(_next(request))
    form = forms.LoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            ratelimit.hit("login_ip", ratelimit.client_ip())
            result = services.staff_login(
                login=form.cleaned_data["username"], password=form.cleaned_data["password"], door=DOOR
            )
        except errors.InvalidCredentials:
            error = _invalid_login()
        except RateLimited as exc:
            error = accounts_forms.refusal(exc).messages[0]
        else:
            if isinstance(result, services.MfaRequired):
                request.session[signin.PENDING_MFA] = {
                    "token": result.mfa_token,
                    "methods": result.methods,
                    "webauthn": result.webauthn,  # request options for the staff member's keys, if any
                    "next": _next(request),
                }
                return redirect("console:login_mfa")
            signin.complete(request, result, amr=["pwd"])
            return redirect(_next(request))
    elif request.method == "POST":
        error = _invalid_login()
    context = {"form": form, "error": error, "next": request.POST.get("next") or request.GET.get("next", "")}
    return render(request, "console/login.html", context)


@require_http_methods(["GET", "POST"])
def login_mfa(request: HttpRequest) -> HttpResponseBase:
    """The second step: the authenticator app's code or a recovery code."""
    pending: dict[str, Any] | None = request.session.get(signin.PENDING_MFA)
    if not pending:
        return redirect("console:login")
    form = forms.CodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            passed = services.staff_login_mfa(
                mfa_token=pending["token"], code=form.cleaned_data["code"], door=DOOR
            )
        except (errors.ChallengeInvalid, errors.InvalidCredentials):
            request.session.pop(signin.PENDING_MFA, None)
            messages.error(request, gettext("That sign-in has expired. Please sign in again."))
            return redirect("console:login")
        except errors.WrongCode:
            error = gettext("That code is not right (or was already used). Try the next one.")
        except RateLimited as exc:
            error = accounts_forms.refusal(exc).messages[0]
        else:
            signin.complete(request, passed.user, amr=passed.amr)
            if passed.factor.recovery_codes_left is not None:
                # Said in the language of the console pages that follow, the profile's.
                signin.language_activate(request, passed.user)
                left = passed.factor.recovery_codes_left
                messages.warning(
                    request,
                    ngettext(
                        "Recovery code used: %(count)d left.", "Recovery code used: %(count)d left.", left
                    )
                    % {"count": left},
                )
            return redirect(pending["next"])
    elif request.method == "POST":
        error = gettext("Enter the code.")
    context = {
        "form": form,
        "error": error,
        "methods": pending["methods"],
        "webauthn": pending.get("webauthn"),
    }
    return render(request, "console/login_mfa.html", context, status=400 if error else 200)


def _credential(request: HttpRequest) -> dict[str, Any] | None:
    """The browser's answer ({"credential": PublicKeyCredential.toJSON()}), or None when the body has none."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    credential = body.get("credential") if isinstance(body, dict) else None
    return credential if isinstance(credential, dict) else None


def _no_credential() -> JsonResponse:
    return JsonResponse(
        {"code": "validation_error", "message": gettext("A credential is required.")}, status=422
    )


@require_POST
def login_mfa_key(request: HttpRequest) -> HttpResponse:
    """The second step with a security key or passkey: the browser's answer to the request options the
    password step made (shown on the code page), checked by the API's check (services.staff_login_mfa: the
    same lockout, audit and staff-only rule as a code). JSON in and out, for console/static/console/passkey.js."""
    pending: dict[str, Any] | None = request.session.get(signin.PENDING_MFA)
    credential = _credential(request)
    if credential is None:
        return _no_credential()
    if not pending:
        return _json_error(errors.ChallengeInvalid())
    try:
        passed = services.staff_login_mfa(mfa_token=pending["token"], credential=credential, door=DOOR)
    except (errors.ChallengeInvalid, errors.InvalidCredentials) as exc:
        request.session.pop(signin.PENDING_MFA, None)  # start again from the password
        return _json_error(exc)
    except DomainError as exc:  # a key that did not verify, a locked account: try again or wait
        return _json_error(exc)
    signin.complete(request, passed.user, amr=passed.amr)
    return JsonResponse({"redirect": pending["next"]})


def _json_error(exc: DomainError) -> JsonResponse:
    response = JsonResponse({"code": exc.code, "message": str(exc.message)}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.details["retry_after"])
    return response


@require_POST
def passkey_options(request: HttpRequest) -> HttpResponse:
    """WebAuthn request options for a passkey login; the challenge's token stays in the session."""
    try:
        ratelimit.hit("login_ip", ratelimit.client_ip())
    except RateLimited as exc:
        return _json_error(exc)
    challenge = services.passkey_login_begin()
    request.session[signin.PENDING_PASSKEY] = challenge.passkey_token
    return JsonResponse({"public_key": challenge.public_key})


@require_POST
def passkey_verify(request: HttpRequest) -> HttpResponse:
    """The browser's answer ({"credential": PublicKeyCredential.toJSON()}): a console session for staff."""
    token = request.session.get(signin.PENDING_PASSKEY)
    credential = _credential(request)
    if credential is None:
        return _no_credential()
    if not token:
        return _json_error(errors.ChallengeInvalid())
    try:
        ratelimit.hit("login_ip", ratelimit.client_ip())
        passed = services.staff_login_passkey(passkey_token=token, credential=credential, door=DOOR)
    except DomainError as exc:
        return _json_error(exc)
    signin.complete(request, passed.user, amr=passed.amr)
    return JsonResponse({"redirect": _next(request)})


@require_http_methods(["GET", "POST"])
@staff_required
def mfa_setup(request: StaffRequest) -> HttpResponse:
    """TOTP enrollment: a POST starts it (the QR code and key are then shown), the first code confirms it,
    and the recovery codes are shown once. Confirming stands in for a re-authentication only right after
    signing in (REAUTH_WINDOW_SECONDS); later the staff member signs in again first."""
    user = request.user
    if user.mfa_enabled:
        return redirect("console:home")
    form = forms.CodeForm(request.POST if "code" in request.POST else None)
    context: dict[str, Any] = {"form": form, "error": ""}
    status = 200
    try:
        if request.method == "POST" and "start" in request.POST:
            services.totp_setup_begin(user=user)
            return redirect("console:mfa_setup")
        if request.method == "POST":
            if form.is_valid():
                added = services.totp_enable_after_login(
                    user=user,
                    code=form.cleaned_data["code"],
                    authenticated_at=signin.authenticated_at(request),
                )
                signin.second_factor_added(request)
                return render(
                    request, "console/mfa_setup_done.html", {"recovery_codes": added.recovery_codes}
                )
            context["error"], status = gettext("Enter the code your app shows."), 400
    except errors.ReauthRequired:
        context["reauth"], status = True, 403
    except (errors.WrongCode, errors.MfaSetupExpired, errors.TotpAlreadyEnabled) as exc:
        context["error"], status = str(exc.message), exc.status
    except errors.EmailNotVerified as exc:
        context["blocked"], status = str(exc.message), exc.status
    context["setup"] = mfa_selectors.totp_setup_current(user=user)
    return render(request, "console/mfa_setup.html", context, status=status)


@require_POST
def logout(request: HttpRequest) -> HttpResponseBase:
    if request.user.is_authenticated:
        services.staff_logout(user=request.user, door=DOOR)
    auth.logout(request)
    return redirect("console:login")
