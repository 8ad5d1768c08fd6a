"""Export download tokens never reach a log line or an error report (config/logredact.py)."""

from __future__ import annotations

import io
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.core import mail

from tests.conftest import assert_error
from tests.gdpr.helpers import body, token_from
from tests.live.server import LiveServer


def _configured_handlers() -> list[logging.StreamHandler]:  # type: ignore[type-arg]
    """The console handler every logger reaches (the request's one access line included)."""
    return [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured log handlers write (the console handler every logger reaches, and the
    development server's access log), captured in place of their streams."""
    out = io.StringIO()
    handlers = _configured_handlers()
    assert len(handlers) == 1, handlers
    previous = [h.setStream(out) for h in handlers]
    try:
        yield out
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.setStream(stream)


def _export_token(api, user, login) -> str:
    access = login()["access"]
    assert api.call("post", "/gdpr/requests", {"type": "export"}, token=access).status_code == 202
    return token_from(mail.outbox[-1].body)


def test_request_log_lines_carry_no_download_token(api, user, login, log_output):
    token = _export_token(api, user, login)
    unknown = secrets.token_urlsafe(32)

    assert_error(api.call("get", f"/gdpr/exports/{unknown}"), 404, "not_found")
    assert body(api.call("get", f"/gdpr/exports/{token}"))
    user.data_requests.get().export_file.__class__.objects.update(downloads_left=0)
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")

    text = log_output.getvalue()
    assert '"GET /api/v1/gdpr/exports/[redacted]" 404' in text
    assert '"GET /api/v1/gdpr/exports/[redacted]" 410' in text
    assert token not in text and unknown not in text


def test_a_500_on_the_download_path_is_logged_and_reported_without_the_token(
    api, user, login, log_output, settings, monkeypatch
):
    from gdpr.services import exports

    token = _export_token(api, user, login)
    settings.ADMINS = [("Ops", "ops@example.com")]
    mail.outbox.clear()

    def broken_open(*args, **kwargs):
        raise OSError(f"storage refused /api/v1/gdpr/exports/{token}")

    monkeypatch.setattr(exports.default_storage, "open", broken_open)
    r = api.call("get", f"/gdpr/exports/{token}")

    assert_error(r, 500, "server_error")
    text = log_output.getvalue()
    assert '"GET /api/v1/gdpr/exports/[redacted]" 500' in text
    assert "OSError: storage refused /api/v1/gdpr/exports/[redacted]" in text
    assert token not in text
    [report] = [m for m in mail.outbox if m.to == ["ops@example.com"]]
    assert "[redacted]" in report.subject
    assert token not in report.subject + report.body + "".join(str(a[0]) for a in report.alternatives)


def test_any_log_line_that_quotes_a_download_path_carries_no_token(log_output):
    token = secrets.token_urlsafe(32)
    # Whatever logger it comes from (a library's message quoting a URL, say), the console handler cleans it.
    logging.getLogger("some.library").warning("fetching %s failed", f"/api/v1/gdpr/exports/{token}")
    text = log_output.getvalue()
    assert "fetching /api/v1/gdpr/exports/[redacted] failed" in text and token not in text


def test_the_served_access_log_carries_no_token():
    token = secrets.token_urlsafe(32)
    with LiveServer(workers=1, log_name="redaction-server", extra_env={"LOG_LEVEL": "INFO"}) as server:
        for method in ("GET", "HEAD"):
            request = urllib.request.Request(f"{server.url}/api/v1/gdpr/exports/{token}", method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 404
        # The access line is written after the answer went out.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.log().count("/api/v1/gdpr/exports/") < 2:
            time.sleep(0.1)
        log = server.log()
    # The application's one access line per request (gunicorn's own access log is off).
    assert '"GET /api/v1/gdpr/exports/[redacted]" 404' in log
    assert '"HEAD /api/v1/gdpr/exports/[redacted]" 404' in log
    assert token not in log
