"""/.well-known/jwks.json and /.well-known/openid-configuration: what another service needs to verify
Custodian's access tokens offline (docs/integration.md). Plain views outside the versioned API; public,
cacheable JSON."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts import errors, jwks

_METHODS = ("GET", "HEAD")


def _public(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=settings.JWKS_MAX_AGE_SECONDS)
    # Public key material: browser-side verifiers may fetch it too.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _error(
    status: int, code: str, message: str | Promise, details: dict[str, object] | None = None
) -> HttpResponse:
    body = {"code": code, "message": str(message), "details": details or {}}
    response = JsonResponse(body, status=status)
    # Not cached: once keys are configured, verifiers must see them at once.
    patch_cache_control(response, no_store=True)
    return response


def _refused(request: HttpRequest) -> HttpResponse | None:
    if request.method in _METHODS:
        return None
    response = _error(405, "method_not_allowed", _("Method not allowed."))
    response["Allow"] = ", ".join(_METHODS)
    return response


def _unavailable() -> HttpResponse:
    error = errors.JwksUnavailable(details={"algorithm": jwks.HS256})
    return _error(error.status, error.code, error.message, error.details)


def jwks_view(request: HttpRequest) -> HttpResponse:
    if refused := _refused(request):
        return refused
    document = jwks.jwks_document()
    if document is None:
        return _unavailable()
    return _public(HttpResponse(document, content_type="application/json"))


def openid_configuration_view(request: HttpRequest) -> HttpResponse:
    if refused := _refused(request):
        return refused
    document = jwks.discovery_document(base_url=request.build_absolute_uri("/"))
    if document is None:
        return _unavailable()
    return _public(JsonResponse(document))
