"""The per-IP ceiling over every anonymous API operation (`anon_ip`), on top of the operations' own limits."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from accounts import ratelimit
from accounts.models import Session
from audit.models import AuditEvent
from config.openapi import operations
from tests.accounts.test_ratelimit import DOWN
from tests.conftest import PASSWORD, assert_error

# A request no operation accepts, but one each must read (and count) before refusing it.
PROBE = ("post", "/auth/token/verify", {"token": "not.a.token"})


def _probe(api: Any, **extra: Any) -> Any:
    method, path, body = PROBE
    return api.call(method, path, body, **extra)


def _anonymous_operations(api: Any) -> list[tuple[str, str]]:
    document = api.get("/api/v1/openapi.json").json()
    found = []
    for method, path, op in operations(document):
        if op.get("security") or path.startswith("/api/v1/health"):
            continue
        # Any value fits the path: the ceiling refuses before parameters are read.
        found.append((method, re.sub(r"\{[^}]+\}", "x", path.removeprefix("/api/v1"))))
    return found


@pytest.fixture
def ceiling(settings: Any) -> int:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon_ip": "3/min"}
    return 3


def test_every_anonymous_operation_is_under_the_ceiling(api, db, ceiling):
    anonymous = _anonymous_operations(api)
    assert len(anonymous) >= 10 and ("post", "/auth/token") in anonymous
    assert ("get", "/gdpr/exports/x") in anonymous and ("post", "/auth/social/x") in anonymous
    for _ in range(ceiling):
        assert _probe(api).status_code == 401

    for method, path in anonymous:
        response = api.call(method, path, None if method in ("get", "head") else {})
        assert response.status_code == 429, (method, path, response.status_code)
        assert int(response["Retry-After"]) >= 1, (method, path)
        if method != "head":  # a HEAD answer has no body
            body = assert_error(response, 429, "rate_limited")
            assert int(response["Retry-After"]) == body["details"]["retry_after"], (method, path)


def test_the_ceiling_is_per_client_ip(api, db, ceiling):
    for _ in range(ceiling):
        _probe(api, REMOTE_ADDR="192.0.2.1")
    assert_error(_probe(api, REMOTE_ADDR="192.0.2.1"), 429, "rate_limited")
    assert _probe(api, REMOTE_ADDR="192.0.2.2").status_code == 401


def test_authenticated_requests_are_not_counted(api, user, login, ceiling):
    access = login()["access"]  # one anonymous request
    for _ in range(3 * ceiling):
        assert api.call("get", "/me", token=access).status_code == 200
        assert api.call("get", "/gdpr/requests", token=access).status_code == 200
    # Still the rest of the anonymous allowance; then the ceiling.
    for _ in range(ceiling - 1):
        assert _probe(api).status_code == 401
    assert_error(_probe(api), 429, "rate_limited")
    # A refused anonymous caller with a valid token is still served where the token is needed.
    assert api.call("get", "/me", token=access).status_code == 200


def test_health_checks_are_exempt(api, db, ceiling):
    for _ in range(ceiling + 1):
        _probe(api)
    assert api.get("/api/v1/health").status_code == 200


def test_the_default_is_generous(settings):
    assert settings.RATE_LIMITS["anon_ip"] == "300/min"


def test_the_ceiling_fails_open_when_the_cache_is_down(api, user, settings, caplog):
    settings.CACHES = DOWN
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "anon_ip": "1/min"}
    with caplog.at_level(logging.ERROR, logger="accounts.ratelimit"):
        for _ in range(3):
            assert_error(_probe(api), 401, "token_invalid")
        assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200
    assert any("scope=anon_ip" in r.getMessage() for r in caplog.records)


def _refresh(api: Any, token: str) -> Any:
    return api.post_json("/auth/token/refresh", {"refresh": token})


def test_a_rotated_refresh_token_is_not_counted(api, user, login, ceiling, monkeypatch):
    counted: list[str] = []
    real = ratelimit._count
    monkeypatch.setattr(ratelimit, "_count", lambda key, ttl: counted.append(key) or real(key, ttl))
    token = login()["refresh"]  # one anonymous request
    counted.clear()
    for _ in range(3 * ceiling):
        response = _refresh(api, token)
        assert response.status_code == 200
        token = response.json()["refresh"]
    assert counted == []  # a live rotation makes no cache round trip at all
    # Still the rest of the anonymous allowance; then the ceiling.
    for _ in range(ceiling - 1):
        assert _probe(api).status_code == 401
    assert_error(_probe(api), 429, "rate_limited")
    # Over the ceiling, a live refresh token is still rotated, as a bearer token is still served.
    assert _refresh(api, token).status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": 7}, {"refresh": "not.a.token"}, "{"])
def test_a_refresh_without_a_live_token_is_counted(api, db, ceiling, body):
    for _ in range(ceiling):
        assert api.post_json("/auth/token/refresh", body).status_code in (400, 401, 422)
    refused = api.post_json("/auth/token/refresh", body)
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1


def test_over_the_ceiling_a_spent_token_is_refused_before_it_is_judged(api, user, login, ceiling, settings):
    """A spent token is counted before reuse is decided: over the ceiling the answer is 429 and nothing
    happens to the session (the next test: under it, the reuse is detected as always)."""
    settings.REFRESH_REUSE_GRACE_SECONDS = 0
    spent = login()["refresh"]
    live = _refresh(api, spent).json()["refresh"]
    session = Session.objects.get()
    for _ in range(ceiling - 1):
        _probe(api)
    assert_error(_refresh(api, spent), 429, "rate_limited")
    session.refresh_from_db()
    assert (
        session.revoked_at is None and not AuditEvent.objects.filter(action="session.token_reused").exists()
    )
    assert _refresh(api, live).status_code == 200  # the holder of the live token is still served


def test_a_spent_token_under_the_ceiling_is_counted_and_still_detected(api, user, login, ceiling, settings):
    settings.REFRESH_REUSE_GRACE_SECONDS = 0
    spent = login()["refresh"]
    assert _refresh(api, spent).status_code == 200
    assert_error(_refresh(api, spent), 401, "token_reused")
    assert Session.objects.get().revoked_at is not None
    assert _probe(api).status_code == 401  # login, the reuse: two counted, one left
    assert_error(_probe(api), 429, "rate_limited")


def test_a_refresh_body_the_ceiling_cannot_read_gets_the_usual_answers(api, db, ceiling, settings):
    # The ceiling reads the body before the operation: a body too large, not UTF-8 or not JSON still gets
    # the answers every operation gives (413, 400), counted like any request without a live token.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    assert_error(api.post_json("/auth/token/refresh", {"refresh": "x" * 50}), 413, "payload_too_large")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    raw = api.generic("POST", "/api/v1/auth/token/refresh", b'{"refresh": "\xff"}', "application/json")
    assert_error(raw, 400, "bad_request")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": "x"}), 401, "token_invalid")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": "x"}), 429, "rate_limited")
