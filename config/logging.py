"""Log output: one record per request (`custodian.access`), written as plain lines or as JSON lines
(LOG_FORMAT). config/settings.py wires the formatters into LOGGING.

Every request's outcome is logged once, by `request_log`, called from the request middleware. Django's own
outcome records ("Not Found: /path" on `django.request`, the development server's access line on
`django.server`) are dropped in LOGGING: they repeated the same answer in other formats, with the path
unredacted. Django's security records about a request (a CSRF failure, a disallowed Host) become the
`reason` of that request's record (`SecurityReasonHandler`). An unhandled exception is not logged where it
is caught: it is noted on the request (`exception_note`) and its traceback travels in that request's one
record, at ERROR.

What is logged of a request: method, path (redacted by `path_redact`), status, duration and request id;
never the query string, headers (Authorization, cookies) or the body.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core import context

if TYPE_CHECKING:
    from django.http import HttpRequest

ACCESS_LOGGER = "custodian.access"
access_logger = logging.getLogger(ACCESS_LOGGER)

# Path segments that are credentials: the export download token (GET /api/v1/gdpr/exports/{token}).
_SECRET_SEGMENTS = re.compile(r"(/gdpr/exports/)[^/?#\s]+")
_EXCEPTION_ATTR = "_custodian_unhandled_exception"
_REASON_ATTR = "_custodian_log_reason"
# Attributes an access record carries besides the message; the JSON formatter writes them as fields.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "reason")


def path_redact(path: str) -> str:
    """The path as it may be logged: a credential in it (an export download token) becomes `[redacted]`.
    Also applied to text that quotes a path (Django's security messages)."""
    return _SECRET_SEGMENTS.sub(r"\1[redacted]", path)


def exception_note(request: HttpRequest, exc: BaseException) -> None:
    """Remember the exception a request's answer came from; its access record carries the traceback."""
    setattr(request, _EXCEPTION_ATTR, exc)


def request_log(*, request: HttpRequest, path: str, status: int, duration_ms: float, request_id: str) -> None:
    """The one record of a request's outcome: INFO for 1xx-3xx, WARNING for 4xx, ERROR for 5xx (with the
    traceback of an unhandled exception noted on the request). Every access-log line goes through here,
    so the path is redacted here."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    safe_path = path_redact(path)
    method = request.method or ""
    exc: BaseException | None = getattr(request, _EXCEPTION_ATTR, None)
    reason: str | None = getattr(request, _REASON_ATTR, None)
    extra: dict[str, Any] = {
        "method": method,
        "path": safe_path,
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "request_id": request_id,
    }
    if reason:
        extra["reason"] = reason
    if status >= 500:
        # Django's error report (AdminEmailHandler, mailed to ADMINS) is built from the request.
        extra["request"] = request
    access_logger.log(
        level,
        '"%s %s" %s %.1fms%s',
        method,
        safe_path,
        status,
        duration_ms,
        f": {reason}" if reason else "",
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
        extra=extra,
    )


class SecurityReasonHandler(logging.Handler):
    """Handler of `django.security` (not propagating): a record about a request (Django attaches it: a CSRF
    failure, a disallowed Host, another suspicious operation answered 400) becomes the reason of that
    request's access record instead of a record of its own; any other record goes on to the root's
    handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "META"):
            setattr(request, _REASON_ATTR, path_redact(record.getMessage()))
        else:
            logging.getLogger().handle(record)


def _request_id(record: logging.LogRecord) -> str:
    # Records written while a request (or an outbox delivery) is bound carry its id.
    return str(getattr(record, "request_id", "") or context.current().request_id)


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger message request_id=…` (the id when there is one), then the traceback if any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = _request_id(record)
        return f"{line} request_id={request_id}" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message, request_id when bound,
    method / path / status / duration_ms on access records, exception (the traceback text) when one is
    attached, stack when asked for."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id(record)
        if request_id:
            out["request_id"] = request_id
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                out[field] = getattr(record, field)
        # exc_text first: the redaction filter leaves the cleaned traceback there.
        if record.exc_text:
            out["exception"] = record.exc_text
        elif record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)
