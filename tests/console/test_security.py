from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.console.conftest import client_for, htmx

TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates"


def _assert_headers(response) -> None:
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]


def test_headers_on_every_kind_of_console_response(db, staff_client, make_user, user):
    responses = [
        Client().get("/console/login/"),
        Client().get("/console/users/"),  # redirect to login
        client_for(make_user(email="plain@example.com")).get("/console/users/"),  # 403
        staff_client.get("/console/users/"),
        staff_client.get("/console/users/?q=a", headers=htmx("results")),
        staff_client.get(f"/console/users/{user.pk}/"),
        Client(enforce_csrf_checks=True).post("/console/login/"),  # CSRF failure
    ]
    for response in responses:
        _assert_headers(response)


def test_api_is_not_given_console_headers(db):
    response = Client().get("/health")
    assert "Content-Security-Policy" not in response


def test_htmx_is_served_from_static_files_and_configured_without_eval(staff_client):
    body = staff_client.get("/console/users/").content.decode()
    assert '<script src="/static/console/htmx.min.js" defer></script>' in body
    assert '"allowEval":false' in body and '"includeIndicatorStyles":false' in body
    assert "https://" not in body  # no CDN
    assert (
        Path(__file__).resolve().parents[2] / "console/static/console/htmx.min.js"
    ).stat().st_size > 40_000
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[A-Za-z0-9]+\"\}'", body)


def test_templates_have_no_inline_script_style_or_handlers():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"<style", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert "hx-on" not in text and "|safe" not in text and "autoescape off" not in text, path


@pytest.mark.parametrize(("debug", "secure"), [("false", "True True"), ("true", "False False")])
def test_cookies_are_secure_unless_debug(debug, secure):
    env = {k: v for k, v in os.environ.items() if k not in ("SECURE_COOKIES",)}
    env.update(DEBUG=debug, SECRET_KEY="x" * 60)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == secure
