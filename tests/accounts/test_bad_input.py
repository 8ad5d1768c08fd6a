"""Bad input on every foundation endpoint: always a 4xx in ErrorOut, never a 500, nothing stored changed."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.conftest import ApiClient, assert_error

BODY_ENDPOINTS = [
    ("post", "/auth/register", False),
    ("post", "/auth/email/verify", False),
    ("post", "/auth/email/resend", False),
    ("post", "/auth/token", False),
    ("post", "/auth/token/refresh", False),
    ("post", "/auth/token/verify", False),
    ("patch", "/me", True),
    ("delete", "/me", True),
]
BEARER_ENDPOINTS = [
    ("get", "/me"),
    ("patch", "/me"),
    ("delete", "/me"),
    ("get", "/me/sessions"),
    ("delete", "/me/sessions/3f9a4a47-8f7e-4a4b-9d59-3c0e0f2e8a11"),
    ("post", "/auth/logout"),
    ("post", "/auth/logout-all"),
]


@pytest.fixture
def snapshot(db):
    def take() -> tuple:
        return (
            list(User.objects.order_by("pk").values()),
            list(Session.objects.order_by("pk").values()),
            AuditEvent.objects.exclude(action="auth.login_failed").count(),
        )

    return take


@pytest.mark.parametrize(("method", "path", "auth"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [
        '{"email": ',
        "not json",
        "[1, 2, 3]",
        '"a string"',
        "null",
        '{"email": 5, "password": [], "login": {},'
        ' "refresh": 1, "token": 2, "key": false, "first_name": 3, "username": 9}',
    ],
)
def test_malformed_and_mistyped_bodies(api: ApiClient, tokens, snapshot, method, path, auth, raw) -> None:
    before = snapshot()
    r = api.call(method, path, raw, token=tokens["access"] if auth else None)
    assert r.status_code in (400, 422), (r.status_code, r.content)
    assert_error(r, r.status_code)
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "auth"), BODY_ENDPOINTS)
def test_huge_bodies_are_refused(api: ApiClient, tokens, snapshot, method, path, auth) -> None:
    before = snapshot()
    huge = json.dumps({"email": "a@example.com", "password": "x" * (2 * 1024 * 1024)})
    r = api.call(method, path, huge, token=tokens["access"] if auth else None)
    assert_error(r, 413, "payload_too_large")
    assert snapshot() == before


def _forge(claims: dict, alg: str = "none") -> str:
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


def _bad_tokens(tokens: dict) -> dict[str, str]:
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    head, _payload, sig = tokens["access"].split(".")
    other_user = dict(claims, sub="00000000-0000-0000-0000-000000000001")
    tampered = base64.urlsafe_b64encode(json.dumps(other_user).encode()).rstrip(b"=").decode()
    return {
        "alg_none": _forge(claims),
        "tampered_payload": f"{head}.{tampered}.{sig}",
        "wrong_key": jwt.encode(claims, "another-key-" * 4, algorithm="HS256"),
        "wrong_audience": jwt.encode(dict(claims, aud="someone-else"), settings.NINJA_JWT["SIGNING_KEY"]),
        "hs512": jwt.encode(claims, settings.NINJA_JWT["SIGNING_KEY"], algorithm="HS512"),
        "refresh_as_bearer": tokens["refresh"],
        "garbage": "abc",
        "empty_segments": "..",
    }


@pytest.mark.parametrize(("method", "path"), BEARER_ENDPOINTS)
def test_bad_bearer_tokens(api: ApiClient, tokens, snapshot, method, path) -> None:
    before = snapshot()
    for name, token in _bad_tokens(tokens).items():
        r = api.call(method, path, {"password": "x"} if method == "delete" else None, token=token)
        assert r.status_code == 401, (name, r.content)
        assert_error(r, 401)
    r = api.call(method, path, headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "not_authenticated")
    r = api.call(method, path)
    assert_error(r, 401, "not_authenticated")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path"), BEARER_ENDPOINTS)
def test_expired_access_token(api: ApiClient, tokens, method, path) -> None:
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert_error(api.call(method, path, token=tokens["access"]), 401, "token_invalid")


def test_refresh_and_verify_with_bad_tokens(api: ApiClient, tokens, snapshot) -> None:
    before = snapshot()
    for name, token in _bad_tokens(tokens).items():
        if name == "refresh_as_bearer":
            continue
        assert_error(api.post_json("/auth/token/refresh", {"refresh": token}), 401, "token_invalid")
        assert_error(api.post_json("/auth/token/verify", {"token": token}), 401, "token_invalid")
    # an access token is not a refresh token
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["access"]}), 401, "token_invalid")
    assert snapshot() == before


@pytest.mark.parametrize("bad", ["not-a-uuid", "1", "3f9a4a47-8f7e-4a4b-9d59", "%27%20OR%201=1"])
def test_non_uuid_path_ids(api: ApiClient, tokens, snapshot, bad) -> None:
    before = snapshot()
    r = api.call("delete", f"/me/sessions/{bad}", token=tokens["access"])
    assert r.status_code in (404, 422), r.content
    assert_error(r, r.status_code)
    assert snapshot() == before


def test_unknown_fields_on_register_are_ignored(api: ApiClient) -> None:
    r = api.post_json(
        "/auth/register",
        {
            "email": "new@example.com",
            "password": "correct-horse-battery-9",
            "is_staff": True,
            "is_superuser": True,
            "id": "00000000-0000-0000-0000-000000000000",
            "email_verified_at": "2020-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert not user.is_staff and not user.is_superuser and user.email_verified_at is None
    assert str(user.pk) != "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "email", ["", "not-an-email", "a@", "@b.c", "a" * 250 + "@example.com", "a b@example.com"]
)
def test_bad_email_addresses(api: ApiClient, email) -> None:
    body = assert_error(
        api.post_json("/auth/register", {"email": email, "password": "correct-horse-battery-9"}),
        422,
        "validation_error",
    )
    assert "email" in body["details"]["fields"]
    assert not User.objects.exists()


def test_empty_and_oversized_login_fields(api: ApiClient) -> None:
    assert_error(api.post_json("/auth/token", {"login": "", "password": "x"}), 422)
    assert_error(api.post_json("/auth/token", {"login": "a" * 300, "password": "x"}), 422)
    assert_error(api.post_json("/auth/token", {"login": "a@example.com", "password": "x" * 2000}), 422)
    assert_error(api.post_json("/auth/token", {}), 422)
