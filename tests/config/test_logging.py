"""Every request's outcome is logged once (custodian.access), as plain lines or JSON lines (LOG_FORMAT), and
never with a secret in it: no export token, Authorization header, password or request body."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from config import logging as logs
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
EXPORT_TOKEN = "tOkEn_" + "x" * 37  # the shape of a real download token (43 URL-safe characters)
SECRETS = (EXPORT_TOKEN, "Bearer-secret-value", "hunter2-secret-pass")


def _records(caplog: Any) -> list[logging.LogRecord]:
    """Records of the request, without huey's own lines (tasks run inline in tests)."""
    return [r for r in caplog.records if not r.name.startswith("huey")]


def _formatted(records: list[logging.LogRecord]) -> str:
    plain, as_json = logs.PlainFormatter(), logs.JsonFormatter()
    return "\n".join(f"{plain.format(r)}\n{as_json.format(r)}" for r in records)


def _one_access_record(caplog: Any, status: int) -> logging.LogRecord:
    records = _records(caplog)
    assert [(r.name, getattr(r, "status", None)) for r in records] == [("custodian.access", status)], [
        r.getMessage() for r in records
    ]
    return records[0]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/auth/token", "{not json", 400),
        ("get", "/me", None, 401),
        ("get", "/nothing-here", None, 404),
        ("get", f"/gdpr/exports/{EXPORT_TOKEN}", None, 404),
        ("delete", "/auth/token", None, 405),
        ("post", "/auth/token", {"login": "ada@example.com"}, 422),
    ],
)
def test_a_4xx_answer_is_one_record(api, caplog, method, path, body, status) -> None:
    caplog.set_level(logging.INFO)
    response = api.call(method, path, body)
    assert response.status_code == status
    record = _one_access_record(caplog, status)
    assert record.levelno == logging.WARNING
    assert (record.method, record.status) == (method.upper(), status)
    assert record.path == logs.path_redact(f"/api/v1{path}")
    assert record.request_id == response["X-Request-ID"]


def test_a_429_answer_is_one_record(api, user, caplog, settings) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "1/min"}
    api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD})
    caplog.clear()
    caplog.set_level(logging.INFO)
    response = api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert _one_access_record(caplog, 429).levelno == logging.WARNING


def test_a_200_answer_is_one_info_record(api, tokens, caplog) -> None:
    caplog.set_level(logging.INFO)
    assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    record = _one_access_record(caplog, 200)
    assert record.levelno == logging.INFO
    assert record.duration_ms >= 0


def test_an_unhandled_api_error_is_one_error_record_with_its_traceback(api, tokens, caplog) -> None:
    caplog.set_level(logging.INFO)
    with mock.patch("accounts.api._me", side_effect=RuntimeError("boom")):
        response = api.call("get", "/me", token=tokens["access"], headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    record = _one_access_record(caplog, 500)
    assert record.levelno == logging.ERROR
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "req-500"
    assert "RuntimeError: boom" in line["exception"] and "Traceback" in line["exception"]
    assert "RuntimeError: boom" in logs.PlainFormatter().format(record)


def test_an_unhandled_error_outside_the_api_is_one_error_record_with_its_traceback(db, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = Client(raise_request_exception=False)
    with mock.patch("config.wellknown.jwks.jwks_document", side_effect=RuntimeError("kaboom")):
        response = client.get("/.well-known/jwks.json")
    assert response.status_code == 500
    record = _one_access_record(caplog, 500)
    assert record.levelno == logging.ERROR
    assert "RuntimeError: kaboom" in json.loads(logs.JsonFormatter().format(record))["exception"]


@pytest.fixture
def output() -> Any:
    """What the configured console handler writes. (caplog also hooks into loggers that do not propagate,
    such as django.security, so it sees records that never reach the output.)"""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, logs.PlainFormatter)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if " huey " not in line]


def test_a_csrf_failure_is_one_record_with_the_reason(db, output) -> None:
    response = Client(enforce_csrf_checks=True).post("/console/login/", {"login": "x", "password": "y"})
    assert response.status_code == 403
    [line] = _lines(output)
    assert ' WARNING custodian.access "POST /console/login/" 403 ' in line
    assert ": Forbidden (CSRF cookie not set.): /console/login/ request_id=" in line


def test_a_disallowed_host_is_one_record_with_the_reason(db, output) -> None:
    response = Client().get(f"/api/v1/gdpr/exports/{EXPORT_TOKEN}", HTTP_HOST="evil.example")
    assert response.status_code == 400
    [line] = _lines(output)
    assert ' WARNING custodian.access "GET /api/v1/gdpr/exports/[redacted]" 400 ' in line
    assert "Invalid HTTP_HOST header: 'evil.example'" in line and EXPORT_TOKEN not in line


def test_a_security_reason_is_a_json_field(db, output) -> None:
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "stream", None) is output)
    handler.setFormatter(logs.JsonFormatter())
    try:
        Client(enforce_csrf_checks=True).post("/console/login/", {})
    finally:
        handler.setFormatter(logs.PlainFormatter())
    [line] = [json.loads(line) for line in _lines(output)]
    assert line["status"] == 403 and line["reason"] == "Forbidden (CSRF cookie not set.): /console/login/"


def test_a_security_record_without_a_request_is_still_logged(output) -> None:
    logging.getLogger("django.security.SuspiciousSession").warning("session data corrupted")
    assert [line.split(" ", 3)[3] for line in _lines(output)] == [
        "django.security.SuspiciousSession session data corrupted"
    ]


def test_no_secret_reaches_the_log(api, tokens, caplog) -> None:
    """The export token in a download path, the Authorization header, a password and the body."""
    caplog.set_level(logging.DEBUG)
    api.get(f"/api/v1/gdpr/exports/{EXPORT_TOKEN}")
    api.call("get", "/me", headers={"Authorization": "Bearer Bearer-secret-value"})
    api.post_json("/auth/token", {"login": "ada@example.com", "password": "hunter2-secret-pass"})
    api.call("patch", "/me", {"bio": "hunter2-secret-pass"}, token=tokens["access"])
    output = _formatted(_records(caplog))
    assert "/api/v1/gdpr/exports/[redacted]" in output
    for secret in SECRETS:
        assert secret not in output


def test_a_real_download_logs_no_token(api, tokens, caplog, settings, tmp_path) -> None:
    from django.core import mail

    from tests.gdpr.helpers import token_from

    settings.MEDIA_ROOT = str(tmp_path)
    api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"])
    token = token_from(mail.outbox[-1].body)
    caplog.clear()
    caplog.set_level(logging.INFO)
    assert api.get(f"/api/v1/gdpr/exports/{token}").status_code == 200
    record = _one_access_record(caplog, 200)
    assert token not in _formatted([record])


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/v1/gdpr/exports/abc", "/api/v1/gdpr/exports/[redacted]"),
        ("/api/v1/gdpr/exports/abc/", "/api/v1/gdpr/exports/[redacted]/"),
        ("/api/v1/gdpr/requests/1f0c", "/api/v1/gdpr/requests/1f0c"),
        ("/api/v1/me", "/api/v1/me"),
    ],
)
def test_path_redact(path: str, logged: str) -> None:
    assert logs.path_redact(path) == logged


# --- the whole configuration, in a process of its own ---------------------------------------------------

_REQUESTS = """
import django
django.setup()
from django.test import Client
client = Client()
client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer Bearer-secret-value")
client.get("/api/v1/gdpr/exports/tOkEn_" + "x" * 36)
client.post(
    "/api/v1/auth/token", '{"login": 5, "password": "hunter2-secret-pass"}', content_type="application/json"
)
"""


def _serve_three_requests(log_format: str, tmp_path: Path) -> list[str]:
    """401, 404 and 422 through the production settings with DEBUG on (where Django's own console handler
    used to print every 4xx a second time), without a database."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="true",
        VAR_DIR=str(tmp_path),
        LOG_FORMAT=log_format,
        LOG_LEVEL="INFO",
    )
    result = subprocess.run(
        [sys.executable, "-c", _REQUESTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for secret in (*SECRETS, "tOkEn_"):
        assert secret not in result.stdout + result.stderr
    return result.stderr.splitlines()


def test_log_format_json_writes_one_json_line_per_request(tmp_path) -> None:
    lines = [json.loads(line) for line in _serve_three_requests("json", tmp_path)]
    assert [(line["logger"], line["level"], line["status"]) for line in lines] == [
        ("custodian.access", "WARNING", 401),
        ("custodian.access", "WARNING", 404),
        ("custodian.access", "WARNING", 422),
    ]
    for line in lines:
        assert set(line) == {
            "timestamp",
            "level",
            "logger",
            "message",
            "request_id",
            "method",
            "path",
            "status",
            "duration_ms",
        }
        assert line["timestamp"].endswith("+00:00") and len(line["request_id"]) == 32
    assert lines[1]["path"] == "/api/v1/gdpr/exports/[redacted]"


def test_log_format_plain_writes_one_line_per_request(tmp_path) -> None:
    lines = _serve_three_requests("plain", tmp_path)
    assert len(lines) == 3, lines
    assert [line.split(" custodian.access ")[1].split(" ")[2] for line in lines] == ["401", "404", "422"]
    assert all(" WARNING custodian.access " in line and "request_id=" in line for line in lines)


def test_an_unknown_log_format_stops_startup(tmp_path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "LOG_FORMAT='xml'" in result.stderr
