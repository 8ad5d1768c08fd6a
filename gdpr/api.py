"""Ninja routers of the gdpr app: data requests and export downloads (/gdpr), consents (/me/consents)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from ninja import Query, Router
from ninja.responses import Status

from accounts.auth import session_auth
from accounts.models import Session, User
from core.errors import RateLimited
from core.pagination import PageParams, page
from core.schemas import errors
from gdpr import errors as gdpr_errors
from gdpr import schemas, selectors, services
from gdpr.models import DataRequest, ExportFile

router = Router(tags=["gdpr"])
consents_router = Router(tags=["consents"], auth=session_auth)


def _me(request: HttpRequest) -> User:
    session: Session = request.auth  # type: ignore[attr-defined]
    return session.user


def _out(request: HttpRequest, data_request: DataRequest) -> dict[str, Any]:
    export_file: ExportFile | None = getattr(data_request, "export_file", None)
    download = None
    if (
        export_file is not None
        and data_request.status == "ready"
        and export_file.downloads_left > 0
        and export_file.expires_at > timezone.now()
    ):
        download = {
            "url": services.export_download_url(
                export_file, request_origin=request.build_absolute_uri("/").rstrip("/")
            ),
            "expires_at": export_file.expires_at,
            "downloads_left": export_file.downloads_left,
            "size": export_file.size,
            "sha256": export_file.sha256,
        }
    return {
        "id": data_request.pk,
        "type": data_request.type,
        "status": data_request.status,
        "progress": data_request.progress,
        "created_at": data_request.created_at,
        "updated_at": data_request.updated_at,
        "completed_at": data_request.completed_at,
        "scheduled_for": data_request.scheduled_for,
        "reason": data_request.reason,
        "download": download,
    }


@router.post(
    "/requests",
    operation_id="gdpr_requests_create",
    summary="Request an export of your data or the erasure of your account",
    description="Opens a data request: `export` (a ZIP of the user's data is built in the background and mailed as a link when ready) or `erasure` (waits for staff approval, then a grace period). One open request per type (409 `request_open`); a daily limit per user (429 `rate_limited`). Side effects: the request, the audit event, a queued job or a mail.",
    auth=session_auth,
    response={
        202: schemas.DataRequestOut,
        **errors(
            401,
            gdpr_errors.RequestOpen,
            422,
            RateLimited(86400, "You have made too many data requests today."),
        ),
    },
)
def requests_create(request: HttpRequest, payload: schemas.DataRequestIn) -> Status[dict[str, Any]]:
    user = _me(request)
    data_request = services.data_request_create(user=user, actor=user, type=payload.type)
    return Status(202, _out(request, data_request))


@router.get(
    "/requests",
    operation_id="gdpr_requests_list",
    summary="Your data requests, newest first",
    description="The user's data requests, newest first, with status and, for a finished export, its download link. No side effects.",
    auth=session_auth,
    response={200: schemas.DataRequestPageOut, **errors(401, 422)},
)
def requests_list(request: HttpRequest, paging: Query[PageParams]) -> dict[str, Any]:
    result = page(selectors.data_requests_for_user(user=_me(request)), paging)
    result["items"] = [_out(request, r) for r in result["items"]]
    return result


@router.get(
    "/requests/{request_id}",
    operation_id="gdpr_requests_get",
    summary="One of your data requests: status, progress, download link when ready",
    description="One of the user's data requests. Another user's request answers 404. No side effects.",
    auth=session_auth,
    response={200: schemas.DataRequestOut, **errors(401, gdpr_errors.RequestNotFound, 422)},
)
def requests_get(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    return _out(request, selectors.data_request_for_user(user=_me(request), data_request_id=request_id))


@router.post(
    "/requests/{request_id}/cancel",
    operation_id="gdpr_requests_cancel",
    summary="Cancel one of your requests before it runs (an erasure until its grace period ends)",
    description="Cancels an erasure request before it runs (409 `request_not_cancellable` once it started or ended). Side effect: the audit event `gdpr.erasure_cancelled`.",
    auth=session_auth,
    response={
        200: schemas.DataRequestOut,
        **errors(401, gdpr_errors.RequestNotFound, gdpr_errors.RequestNotCancellable, 422),
    },
)
def requests_cancel(request: HttpRequest, request_id: uuid.UUID) -> dict[str, Any]:
    user = _me(request)
    data_request = selectors.data_request_for_user(user=user, data_request_id=request_id)
    return _out(request, services.data_request_cancel(data_request=data_request, actor=user))


_R = TypeVar("_R", HttpResponse, StreamingHttpResponse)

_ZIP_200 = {
    200: {
        "description": "The ZIP file",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _download_headers(response: _R, export_file: ExportFile) -> _R:
    response["Content-Type"] = "application/zip"
    response["Content-Length"] = str(export_file.size)
    response["Content-Disposition"] = str(
        content_disposition_header(
            as_attachment=True, filename=f"custodian-export-{export_file.created_at:%Y%m%d}.zip"
        )
    )
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-SHA256"] = export_file.sha256
    return response


@router.get(
    "/exports/{token}",
    operation_id="gdpr_export_download",
    summary="Download an export ZIP with the token from its link (no bearer token)",
    description=(
        "Streams the export ZIP named by the download token of the mailed link (no bearer token: the link is the credential). `Cache-Control: no-store`. "
        "A download counts against the link's limit only once the whole file has been sent: an interrupted "
        "download uses none (start it again). HEAD on the same URL checks the link without counting."
    ),
    response=errors(gdpr_errors.ExportNotFound, gdpr_errors.ExportGone),
    openapi_extra={"responses": _ZIP_200},
)
def export_download(request: HttpRequest, token: str) -> StreamingHttpResponse:
    export_file, chunks = services.export_download(token=token)
    return _download_headers(StreamingHttpResponse(chunks), export_file)


@router.api_operation(
    ["HEAD"],
    "/exports/{token}",
    operation_id="gdpr_export_check",
    summary="Check an export link: the download's headers, no body; counts no download",
    description="Checks a download link without downloading or counting it: the headers a download would carry. No side effects.",
    response=errors(gdpr_errors.ExportNotFound, gdpr_errors.ExportGone),
    openapi_extra={"responses": {200: {"description": "The link works; the headers a download would carry"}}},
)
def export_check(request: HttpRequest, token: str) -> HttpResponse:
    return _download_headers(HttpResponse(), services.export_download_check(token=token))


@consents_router.get(
    "/consents",
    operation_id="me_consents_list",
    summary="Your current consent for every purpose",
    description="The user's current consent per purpose, derived from the latest record. No side effects.",
    response={200: schemas.ConsentListOut, **errors(401)},
)
def consents_list(request: HttpRequest) -> dict[str, Any]:
    return {"items": selectors.consents_current(user=_me(request))}


@consents_router.get(
    "/consents/history",
    operation_id="me_consents_history",
    summary="Every consent record you gave or withdrew, newest first",
    description="The user's consent records, newest first, paginated (the ledger is append-only). No side effects.",
    response={200: schemas.ConsentHistoryPageOut, **errors(401, 422)},
)
def consents_history(request: HttpRequest, paging: Query[PageParams]) -> dict[str, Any]:
    return page(selectors.consent_history(user=_me(request)), paging)


@consents_router.put(
    "/consents/{purpose}",
    operation_id="me_consents_update",
    summary="Give or withdraw consent for a purpose under the current policy version",
    description="Grants or withdraws consent for a purpose; an unknown purpose answers 404 `unknown_purpose`. Side effect: a new ledger record (policy version, source, IP, time).",
    response={200: schemas.ConsentOut, **errors(401, gdpr_errors.UnknownPurpose, 422)},
)
def consents_update(request: HttpRequest, purpose: str, payload: schemas.ConsentIn) -> dict[str, Any]:
    user = _me(request)
    record = services.consent_set(user=user, actor=user, purpose=purpose, granted=payload.granted)
    current = [c for c in selectors.consents_current(user=user) if c["purpose"] == record.purpose]
    return current[0]
