"""The error contract: every error an operation answers is listed in the OpenAPI document, with a typed code
enum and true examples.

The whole-run check lives in tests/contract/recorder.py (installed by tests/conftest.py): every error
answer of the test session is recorded and, at its end, compared with the document. These tests show that
check catching an undeclared code, and pin the pieces it stands on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from accounts import api as accounts_api
from config import openapi
from config.api import api as ninja_api
from core.errors import GENERIC_CODES
from core.schemas import errors
from gdpr import errors as gdpr_errors
from tests.contract import recorder


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi.render(ninja_api))


@pytest.fixture
def isolated_records() -> Iterator[dict[tuple[str, str, int, str], set[str]]]:
    """The answers recorded inside the test only; taken out of the session's record afterwards, so the
    deliberate drift provoked here does not fail the run."""
    before = dict(recorder.RECORDED)
    recorder.RECORDED.clear()
    try:
        yield recorder.RECORDED
    finally:
        recorder.RECORDED.clear()
        recorder.RECORDED.update(before)


def test_an_undeclared_code_is_caught(
    api: Any, tokens: dict[str, Any], document: dict[str, Any], isolated_records: Any, monkeypatch: Any
) -> None:
    """GET /me starts raising a code (409 user_deleted) that its responses do not list: the whole-run check
    names it."""

    def drifted(request: Any) -> Any:
        raise gdpr_errors.UserDeleted()

    monkeypatch.setattr(accounts_api, "_me", drifted)
    response = api.call("get", "/me", token=tokens["access"])
    assert response.status_code == 409 and response.json()["code"] == "user_deleted"
    assert ("GET", "/api/v1/me", 409, "user_deleted") in isolated_records
    assert recorder.unlisted(isolated_records, document) == ["me_get 409 user_deleted"]


def test_declared_codes_pass(api: Any, document: dict[str, Any], isolated_records: Any) -> None:
    assert api.call("get", "/me").status_code == 401
    assert api.post_json("/auth/register", {}).status_code == 422
    assert api.post_json("/auth/register", "{not json").status_code == 400
    assert api.call("get", "/no-such-path").status_code == 404  # no operation: not the operations' contract
    assert set(isolated_records) >= {
        ("GET", "/api/v1/me", 401, "not_authenticated"),
        ("POST", "/api/v1/auth/register", 422, "validation_error"),
        ("POST", "/api/v1/auth/register", 400, "bad_request"),
    }
    assert recorder.unlisted(isolated_records, document) == []
    assert recorder.untrue_examples(isolated_records, document) == []


def test_an_example_message_the_operation_never_answers_is_caught(document: dict[str, Any]) -> None:
    recorded = {("GET", "/api/v1/me", 401, "not_authenticated"): {"Some other sentence."}}
    found = recorder.untrue_examples(recorded, document)
    assert len(found) == 1 and found[0].startswith("me_get 401 not_authenticated")


def test_literal_paths_win_over_templates(document: dict[str, Any]) -> None:
    """/me/consents/history is its own operation, not the purpose `history` of /me/consents/{purpose}."""
    recorded = {("GET", "/api/v1/me/consents/history", 422, "validation_error"): {"x"}}
    assert list(recorder.answered(recorded, document)) == [("me_consents_history", 422, "validation_error")]
    templated = {("PUT", f"/api/v1/me/consents/{uuid.uuid4()}", 404, "unknown_purpose"): {"x"}}
    assert list(recorder.answered(templated, document)) == [("me_consents_update", 404, "unknown_purpose")]


# --- how codes get into the document --------------------------------------------------------------------


def _codes(document: dict[str, Any], path: str, method: str, status: int) -> list[str]:
    op = document["paths"][path][method]
    return sorted(recorder.listed_codes(document, op, status))


def test_declared_inferred_and_auth_codes(document: dict[str, Any]) -> None:
    assert _codes(document, "/api/v1/auth/register", "post", 409) == ["email_taken", "username_taken"]
    # the body's own 400 and 422 come from the operation's shape
    assert _codes(document, "/api/v1/auth/email/verify", "post", 400) == ["bad_request", "invalid_key"]
    # the bearer check's codes on every operation behind it
    assert _codes(document, "/api/v1/me", "get", 401) == [
        "not_authenticated",
        "session_revoked",
        "token_invalid",
    ]
    # a 401 of a login is the login's, not the bearer check's
    assert _codes(document, "/api/v1/auth/token", "post", 401) == ["invalid_credentials"]
    assert _codes(document, "/api/v1/auth/token", "post", 429) == ["locked", "rate_limited"]
    assert _codes(document, "/api/v1/admin/users", "get", 403) == ["insufficient_scope"]
    assert _codes(document, "/api/v1/me", "get", 500) == ["server_error"]


def test_one_schema_per_set_of_codes(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    conflict = schemas["EmailTakenOrUsernameTakenError"]
    assert conflict["properties"]["code"]["enum"] == ["email_taken", "username_taken"]
    assert conflict["required"] == schemas["ErrorOut"]["required"]
    register = document["paths"]["/api/v1/auth/register"]["post"]["responses"]["409"]["content"][
        "application/json"
    ]
    assert register["examples"]["email_taken"]["value"] == {
        "code": "email_taken",
        "message": "An account with this e-mail address already exists.",
        "details": {},
    }
    assert openapi.schema_name(["validation_error"]) == "ValidationError"
    assert openapi.schema_name(["username_taken", "email_taken"]) == "EmailTakenOrUsernameTakenError"


def test_a_status_without_a_generic_code_must_name_its_codes() -> None:
    with pytest.raises(ValueError, match="409"):
        errors(409)
    assert set(errors(401, gdpr_errors.RequestOpen)) == {401, 409}


def test_every_operation_in_code_has_a_description() -> None:
    missing = [
        op.operation_id
        for _prefix, router in ninja_api._routers
        for path_view in router.path_operations.values()
        for op in path_view.operations
        if not str(op.description or "").strip()
    ]
    assert missing == []


def test_descriptions_state_auth_and_rate_limit(document: dict[str, Any]) -> None:
    login = document["paths"]["/api/v1/auth/token"]["post"]["description"]
    assert "**Auth:** none." in login
    assert "`login_ip` 10/min per client IP" in login and "`anon_ip` 300/min per client IP" in login
    me = document["paths"]["/api/v1/me"]["get"]["description"]
    assert "**Auth:** bearer `SessionBearer`." in me and "**Rate limit:** none per IP." in me
    admin = document["paths"]["/api/v1/admin/users"]["get"]["description"]
    assert "bearer `ApiKeyBearer` with the scope `users:read`" in admin


def test_rate_in_the_description_follows_the_setting() -> None:
    with override_settings(RATE_LIMITS={**_rates(), "login_ip": "3/min"}):
        doc = json.loads(openapi.render(ninja_api))
    assert "`login_ip` 3/min per client IP" in doc["paths"]["/api/v1/auth/token"]["post"]["description"]


def _rates() -> dict[str, str]:
    from django.conf import settings

    return dict(settings.RATE_LIMITS)


# --- the generic examples are what the handlers answer --------------------------------------------------


def _example(document: dict[str, Any], path: str, method: str, status: int, code: str) -> dict[str, Any]:
    content = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    value: dict[str, Any] = content["examples"][code]["value"]
    return value


def test_generic_examples_are_the_answers(
    api: Any, tokens: dict[str, Any], document: dict[str, Any], monkeypatch: Any
) -> None:
    register = "/api/v1/auth/register"
    cases = [
        (api.post_json("/auth/register", "{not json"), register, "post", 400, "bad_request"),
        (api.post_json("/auth/register", {}), register, "post", 422, "validation_error"),
        (api.call("get", "/me"), "/api/v1/me", "get", 401, "not_authenticated"),
    ]
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10):
        too_big = api.post_json("/auth/register", {"email": "x" * 50})
    cases.append((too_big, register, "post", 413, "payload_too_large"))
    with override_settings(RATE_LIMITS={**_rates(), "register_ip": "1/min"}):
        api.post_json("/auth/register", {})
        cases.append((api.post_json("/auth/register", {}), register, "post", 429, "rate_limited"))

    def broken(request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts_api, "_me", broken)
    cases.append((api.call("get", "/me", token=tokens["access"]), "/api/v1/me", "get", 500, "server_error"))
    for response, path, method, status, code in cases:
        body = response.json()
        example = _example(document, path, method, status, code)
        assert (response.status_code, body["code"], body["message"]) == (status, code, example["message"])
        assert set(body["details"]) == set(example["details"]), code


def test_generic_answers_are_generic_codes() -> None:
    assert set(openapi.GENERIC_ANSWERS) <= set(GENERIC_CODES)
