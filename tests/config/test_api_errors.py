"""Answers the error handlers and the request parser give, found by bin/fuzz or by reading the contract:
always ErrorOut, always a status the operation documents, never a 500, nothing stored."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.test import override_settings

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, assert_error


def _declared(api: Any, method: str, path: str) -> set[int]:
    document = api.get("/api/v1/openapi.json").json()
    return {int(s) for s in document["paths"][f"/api/v1{path}"][method]["responses"]}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_body_over_the_limit_is_413_not_500(api: Any) -> None:
    big = {"email": "big@example.com", "password": PASSWORD, "first_name": "x" * 4096}
    body = assert_error(api.post_json("/auth/register", big), 413, "payload_too_large")
    assert body["details"] == {"max_bytes": 1024}
    assert not User.objects.filter(email="big@example.com").exists()
    assert 413 in _declared(api, "post", "/auth/register")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/register", {"email": "nul@example.com", "password": PASSWORD, "first_name": "A\x00"}),
        ("/auth/token", {"login": "ada\x00@example.com", "password": PASSWORD}),
        ("/auth/email/resend", {"email": "ada@example.com", "\x00": 1}),
    ],
)
def test_nul_characters_in_a_body_are_400(api: Any, user: User, path: str, body: dict[str, Any]) -> None:
    """PostgreSQL cannot take NUL in text: before the parser refused it, this was a 500 there."""
    events = AuditEvent.objects.count()
    answer = assert_error(api.post_json(path, body), 400, "bad_request")
    assert answer["message"] == "NUL characters are not accepted."
    assert not User.objects.filter(email="nul@example.com").exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("body", ["[null, null]", "[]", '"text"', "42", "null", "true"])
def test_a_body_that_is_not_a_json_object_is_400(
    api: Any, user: User, tokens: dict[str, Any], body: str
) -> None:
    """Found by fuzzing: PATCH /me with `[null, null]` answered 200 (ninja read a list's attributes)."""
    events = AuditEvent.objects.count()
    response = api.call("patch", "/me", body, token=tokens["access"])
    answer = assert_error(response, 400, "bad_request")
    assert answer["message"] == "The request body must be a JSON object."
    user.refresh_from_db()
    assert (user.first_name, user.username) == ("", None)
    assert AuditEvent.objects.count() == events


def test_nul_in_a_query_parameter_is_422_on_that_field(api: Any, tokens: dict[str, Any]) -> None:
    """Found by fuzzing: a NUL in the query string was an undocumented 400."""
    response = api.call("get", "/me/sessions?limit=1%00&x%00y=1", token=tokens["access"])
    body = assert_error(response, 422, "validation_error")
    assert body["details"]["fields"] == {
        "limit": ["NUL characters are not accepted."],
        "xy": ["NUL characters are not accepted."],
    }
    assert 422 in _declared(api, "get", "/me/sessions")


def test_nul_in_the_path_is_404(api: Any, tokens: dict[str, Any]) -> None:
    response = api.call("delete", "/me/sessions/abc%00", token=tokens["access"])
    assert_error(response, 404, "not_found")
    assert Session.objects.filter(revoked_at__isnull=True).count() == 1


def test_domain_401_says_how_to_authenticate(api: Any) -> None:
    response = api.call("get", "/me", token="not-a-jwt")
    assert_error(response, 401, "token_invalid")
    assert response["WWW-Authenticate"] == "Bearer"


def test_missing_token_is_401_with_www_authenticate(api: Any) -> None:
    response = api.call("get", "/me")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


def test_readiness_failure_is_503_in_error_out(api: Any) -> None:
    with mock.patch("config.health.cache.set", side_effect=ConnectionError("down")):
        response = api.get("/api/v1/health/ready")
    body = assert_error(response, 503, "service_unavailable")
    assert body["details"]["checks"]["cache"] == "error"
    assert body["details"]["checks"]["database"] == "ok"
    assert 503 in _declared(api, "get", "/health/ready")


def test_readiness_ok(api: Any) -> None:
    response = api.get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "queue": "ok"},
        "outbox": {"pending": 0, "failed": 0, "oldest_pending_seconds": 0},
    }


def test_unexpected_exception_is_500_in_error_out_with_request_id(api: Any, tokens: dict[str, Any]) -> None:
    with mock.patch("accounts.api._me", side_effect=RuntimeError("boom")):
        response = api.call("get", "/me", token=tokens["access"], headers={"X-Request-ID": "req-123"})
    body = assert_error(response, 500, "server_error")
    assert body["details"] == {"request_id": "req-123"}
    assert 500 in _declared(api, "get", "/me")


def test_rate_limited_answer_carries_retry_after(api: Any) -> None:
    from core.errors import RateLimited

    with mock.patch("accounts.services.email_verification_resend", side_effect=RateLimited(30)):
        response = api.post_json("/auth/email/resend", {"email": "ada@example.com"})
    body = assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "30"
    assert body["details"] == {"retry_after": 30}


# --- schema-valid input is accepted (positive cases bin/fuzz relies on) --------------------------------


def test_register_accepts_an_empty_username(api: Any) -> None:
    response = api.post_json(
        "/auth/register", {"email": "grace@example.com", "password": PASSWORD, "username": ""}
    )
    assert response.status_code == 201, response.content
    assert response.json()["username"] is None


def test_register_password_bounds_are_documented_and_enforced(api: Any) -> None:
    from django.conf import settings

    document = api.get("/api/v1/openapi.json").json()
    password = document["components"]["schemas"]["RegisterIn"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (
        settings.PASSWORD_MIN_LENGTH,
        settings.PASSWORD_MAX_LENGTH,
    )
    short = "1" * (settings.PASSWORD_MIN_LENGTH - 1)
    response = api.post_json("/auth/register", {"email": "short@example.com", "password": short})
    body = assert_error(response, 422, "validation_error")
    assert list(body["details"]["fields"]) == ["password"]
    assert len(body["details"]["fields"]["password"]) >= 2  # the whole policy speaks: too short, numeric
    assert not User.objects.filter(email="short@example.com").exists()


def test_email_and_username_formats_are_documented(api: Any) -> None:
    document = api.get("/api/v1/openapi.json").json()
    register = document["components"]["schemas"]["RegisterIn"]["properties"]
    assert register["email"]["format"] == "email"
    assert any("pattern" in option for option in register["username"]["anyOf"])


def test_a_single_valued_query_parameter_given_twice_is_422(api: Any, tokens: dict[str, Any]) -> None:
    """Found by fuzzing: `?limit=x&limit=5` answered 200, the first value never validated."""
    response = api.call("get", "/me/sessions?limit=abc&limit=5&offset=0", token=tokens["access"])
    body = assert_error(response, 422, "validation_error")
    assert body["details"]["fields"] == {"limit": ["Give this parameter once."]}
    assert api.call("get", "/me/sessions?limit=5&offset=0", token=tokens["access"]).status_code == 200
