"""The per-IP ceiling over every anonymous API operation (`anon_ip`), on top of the operations' own limits."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

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
