"""The one NinjaAPI: routers mounted, every error rendered as ErrorOut."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.errors import Throttled as NinjaThrottled
from ninja_extra.exceptions import APIException

from accounts import ratelimit
from accounts.api import auth_router, me_router
from accounts.mfa_api import auth_mfa_router, me_mfa_router
from accounts.social.api import auth_social_router, me_social_router
from adminapi.api import router as admin_router
from config import health, version
from config import logging as logs
from config.openapi import CustodianAPI
from config.parsing import BodyNotAccepted, StrictJsonParser
from core.errors import DomainError
from gdpr.api import consents_router as gdpr_consents_router
from gdpr.api import router as gdpr_router

api = CustodianAPI(
    title="Custodian API",
    version=version.version(),
    description="Accounts, sessions and personal data. Errors always use the ErrorOut schema; see docs/api.md.",
    urls_namespace="api",
    docs_url="/docs",
    parser=StrictJsonParser(),
    # Every operation without a throttle of its own; ratelimit.ip_throttle adds it to those with one.
    throttle=ratelimit.anonymous_ceiling,
)

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str | Promise,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    # `code` is the contract; `message` is rendered now, in the request's language (LocaleMiddleware).
    response = api.create_response(
        request, {"code": code, "message": str(message), "details": details or {}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401 and not response.has_header("WWW-Authenticate"):
        response["WWW-Authenticate"] = "Bearer"  # RFC 9110: a 401 names the scheme to use
    return response


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie", "form", "file"}:
        source, parts = parts[0], parts[1:]
        if source in {"body", "form"} and len(parts) > 1:
            parts = parts[1:]
    return ".".join(parts) or "__all__"


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_response(
        request,
        status=exc.status,
        code=exc.code,
        message=exc.message,
        details=exc.details,
        headers=exc.headers,
    )


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        fields.setdefault(_field_name(err.get("loc", ())), []).append(
            str(err.get("msg") or _("Invalid value."))
        )
    return error_response(
        request,
        status=422,
        code="validation_error",
        message=_("The input did not validate."),
        details={"fields": fields},
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        status=401,
        code="not_authenticated",
        message=_("Authentication credentials were not provided."),
        headers={"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(NinjaThrottled)
def on_throttled(request: HttpRequest, exc: NinjaThrottled) -> HttpResponse:
    wait = max(1, int(getattr(exc, "wait", None) or 1))
    return error_response(
        request,
        status=429,
        code="rate_limited",
        message=_("Too many requests. Try again later."),
        details={"retry_after": wait},
        headers={"Retry-After": str(wait)},
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    status = exc.status_code
    # Ninja wraps every body parsing failure in one message; ours says what was wrong.
    message = str(exc.__cause__) if isinstance(exc.__cause__, BodyNotAccepted) else str(exc)
    return error_response(
        request, status=status, code=STATUS_CODES.get(status, "bad_request"), message=message
    )


@api.exception_handler(APIException)
def on_ninja_extra_error(request: HttpRequest, exc: APIException) -> HttpResponse:
    status = int(exc.status_code)
    return error_response(
        request, status=status, code=STATUS_CODES.get(status, "bad_request"), message=str(exc.detail)
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, status=404, code="not_found", message=_("Not found."))


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Django raises it while Ninja reads the body, inside the operation: without this it was a 500.
    return error_response(
        request,
        status=413,
        code="payload_too_large",
        message=_("The request body is larger than allowed."),
        details={"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
    )


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # What Django itself answers with 400 (too many fields, a malformed multipart body).
    return error_response(request, status=400, code="bad_request", message=_("The request was malformed."))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    from core import context

    request_id = context.current().request_id
    # Logged once, with the traceback, in the request's access record (config/logging.py).
    logs.exception_note(request, exc)
    return error_response(
        request,
        status=500,
        code="server_error",
        message=_("Unexpected server error."),
        details={"request_id": request_id},
    )


api.add_router("/auth", auth_router)
api.add_router("/me", me_router)
# Probes are exempt from the anonymous ceiling: one prober (a node, a load balancer) checks many instances
# from one address, and a refused probe would take a healthy instance out of service.
api.add_router("/health", health.router, throttle=[])

api.add_router("/auth/social", auth_social_router)
api.add_router("/me/social-accounts", me_social_router)
api.add_router("/auth", auth_mfa_router)
api.add_router("/me/mfa", me_mfa_router)
api.add_router("/gdpr", gdpr_router)
api.add_router("/me", gdpr_consents_router)
api.add_router("/admin", admin_router)
