from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _

from config import logging as logs
from core import context

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Binds IP, user agent and a request id for audit events and log records; echoes the id as
    X-Request-ID; logs the request's outcome, once (config/logging.py). First in MIDDLEWARE, so that every
    answer (an HTTPS redirect too) is logged and carries the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = context.bind(
            context.RequestContext(
                ip=context.client_ip(request.META, settings.TRUSTED_PROXY_COUNT),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                request_id=request_id,
            )
        )
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logs.request_log(
                request=request,
                path=request.path,
                status=response.status_code,
                duration_ms=(time.perf_counter() - started) * 1000,
                request_id=request_id,
            )
        finally:
            context.reset(token)
        return response


_STATUS = {
    404: ("not_found", _("Not found.")),
    405: ("method_not_allowed", _("Method not allowed.")),
    413: ("payload_too_large", _("The request body is too large.")),
    400: ("bad_request", _("Bad request.")),
    500: ("server_error", _("Unexpected server error.")),
}


class ApiErrorEnvelopeMiddleware:
    """Answers produced outside Ninja's handlers under /api/ (unknown path, wrong method, Django's 400/413)
    still come back in the ErrorOut schema."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and "\x00" in request.path:
            # No resource has NUL in its name, and it must not reach a query (config/parsing.py).
            return JsonResponse(
                {"code": "not_found", "message": str(_("Not found.")), "details": {}}, status=404
            )
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in _STATUS
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = _STATUS[response.status_code]
            wrapped = JsonResponse(
                {"code": code, "message": str(message), "details": {}}, status=response.status_code
            )
            if response.has_header("Allow"):
                wrapped["Allow"] = response["Allow"]
            return wrapped
        return response


class WebMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware for the browser pages only: under /api/ (bearer tokens, JSON answers) no
    message is ever stored or shown, and building the cookie and session stores for every request cost a
    sixth of a bare API request's time in the process (docs/deployment.md, "Performance")."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith("/api/"):
            super().process_request(request)
