"""Export download tokens never reach a log line or an error report.

A download link (`/api/v1/gdpr/exports/<token>`) is a bearer credential for a user's whole data export until
it expires. Its path is written by Django's request log (`Not Found: /api/v1/gdpr/exports/…`, `Internal Server
Error: …`), by the development server's and gunicorn's access logs, and into the error reports mailed to
ADMINS. Each of those passes through one of the hooks below, which replace the token with `[redacted]`:

- `RedactDownloadTokens`: a logging filter, installed in settings.LOGGING on the loggers whose records carry
  the path (`django.request`, `django.server`; filtering where the record is made covers every handler,
  error mails included) and on the console handler, through which every other logger's records pass;
- `RedactingExceptionReporter`: Django's error report (mailed to ADMINS, or the DEBUG page), which shows the
  request's path, URL and META;
- `GunicornLogger`: gunicorn's access and error logs (`gunicorn --logger-class config.logredact.GunicornLogger`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter
from gunicorn.glogging import Logger as GunicornBaseLogger

# Any path segment after the exports prefix, valid token or not (a mistyped token is still most of one),
# also percent-encoded slashes as some clients and proxies write them.
_TOKEN_IN_PATH = re.compile(r"(gdpr(?:/|%2F)exports(?:/|%2F))[^/\s\"'?#&<>]+", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactDownloadTokens(logging.Filter):
    """Rewrites a record's message (and its traceback text) without download tokens; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RedactingExceptionReporter(ExceptionReporter):
    """Django's error report (settings.DEFAULT_EXCEPTION_REPORTER) without download tokens."""

    def get_traceback_html(self) -> SafeString:
        # The report escaped everything it shows; a token's characters need no escaping, nor does the marker.
        return mark_safe(redact(super().get_traceback_html()))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact(super().get_traceback_text()))  # noqa: S308


_gunicorn_filter = RedactDownloadTokens()


class GunicornLogger(GunicornBaseLogger):  # type: ignore[misc]
    """gunicorn's logger with download tokens redacted from the access log (request line, path, referer) and
    from the error log."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # One filter object: gunicorn calls setup again on reload, and a logger keeps a filter only once.
        for logger in (self.error_log, self.access_log):
            logger.addFilter(_gunicorn_filter)
