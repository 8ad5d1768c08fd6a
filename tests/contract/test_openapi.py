"""The OpenAPI document tells SDK generators the whole truth: tests/contract/rules.py, OpenAPI 3.1 validity,
explicit operation ids in code, and docs/openapi.json equal to what the code serves."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from openapi_spec_validator import OpenAPIV31SpecValidator

from config import openapi
from config.api import api as ninja_api
from tests.contract.rules import problems

DOCS_SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(openapi.render(ninja_api))


def test_served_document_follows_every_rule(api: Any) -> None:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    found = problems(response.json())
    assert found == [], "\n".join(found)


def test_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    errors = [str(e.message) for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_operation_in_code_names_its_operation_id() -> None:
    """Ninja invents `<module>_<function>` ids when none is given; generated SDKs would expose them."""
    missing = [
        f"{' '.join(op.methods)} {prefix}{path} ({op.view_func.__module__}.{op.view_func.__name__})"
        for prefix, router in ninja_api._routers
        for path, path_view in router.path_operations.items()
        for op in path_view.operations
        if not op.operation_id
    ]
    assert missing == []


def test_operations_are_counted(document: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in openapi.operations(document)}
    # The accounts and health operations; routers added later only add to them.
    assert {
        "auth_register",
        "auth_email_verify",
        "auth_email_resend",
        "auth_login",
        "auth_token_refresh",
        "auth_token_verify",
        "auth_logout",
        "auth_logout_all",
        "me_get",
        "me_update",
        "me_delete",
        "me_sessions_list",
        "me_sessions_revoke",
        "health_live",
        "health_ready",
    } <= ids


def test_error_schema_requires_code_message_and_details(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "message", "details"}


def test_bearer_scheme_is_http_bearer(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"SessionBearer", "ApiKeyBearer"}
    assert schemes["SessionBearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["ApiKeyBearer"]["type"] == "http" and schemes["ApiKeyBearer"]["scheme"] == "bearer"


def test_admin_operations_and_only_they_take_an_api_key(document: dict[str, Any]) -> None:
    """The admin API has its own tag and security scheme; a user's access token opens none of it."""
    for _method, path, op in openapi.operations(document):
        schemes = {name for requirement in op.get("security", []) for name in requirement}
        admin = path.startswith("/api/v1/admin/")
        assert (op["tags"] == ["admin"]) == admin, path
        assert schemes == ({"ApiKeyBearer"} if admin else schemes - {"ApiKeyBearer"}), path


# --- docs/openapi.json ---------------------------------------------------------------------------------


def test_committed_document_matches_the_code() -> None:
    assert DOCS_SCHEMA.exists(), "run: manage.py export_openapi docs/openapi.json"
    assert DOCS_SCHEMA.read_text() == openapi.render(ninja_api), (
        "docs/openapi.json is out of date: run `.venv/bin/python manage.py export_openapi docs/openapi.json`"
    )


def test_export_is_deterministic_and_equals_the_served_document(api: Any) -> None:
    out = io.StringIO()
    call_command("export_openapi", "-", stdout=out)
    assert out.getvalue() == openapi.render(ninja_api) == openapi.render(ninja_api)
    assert json.loads(out.getvalue()) == api.get("/api/v1/openapi.json").json()


def test_export_writes_the_file_and_check_detects_a_stale_one(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    call_command("export_openapi", str(target), stdout=io.StringIO())
    assert target.read_text() == openapi.render(ninja_api)
    call_command("export_openapi", str(target), "--check", stdout=io.StringIO())

    target.write_text(target.read_text().replace("auth_login", "auth_signin"))
    with pytest.raises(SystemExit) as exc:
        call_command("export_openapi", str(target), "--check", stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.code == 1


# --- each rule fires on a document that breaks it -------------------------------------------------------


def _op(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][path][method]
    return op


def _drop_response(path: str, method: str, status: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _op(doc, path, method)["responses"].pop(status)


REGISTER = "/api/v1/auth/register"
ME = "/api/v1/me"
SESSIONS = "/api/v1/me/sessions"


def _no_examples(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["RegisterIn"].pop("examples")


def _duplicate_id(doc: dict[str, Any]) -> None:
    _op(doc, ME, "get")["operationId"] = "auth_login"


def _error_not_error_out(doc: dict[str, Any]) -> None:
    _op(doc, REGISTER, "post")["responses"]["409"]["content"]["application/json"]["schema"] = {
        "$ref": "#/components/schemas/UserOut"
    }


def _no_error_responses(doc: dict[str, Any]) -> None:
    responses = _op(doc, "/api/v1/health", "get")["responses"]
    for status in [s for s in responses if s[0] in "45"]:
        responses.pop(status)


def _link_at_the_unlink_path(doc: dict[str, Any]) -> None:
    # The layout that made DELETE /me/social-accounts/{not-an-id} answer 405: link at /{provider}.
    doc["paths"]["/api/v1/me/social-accounts/{provider}"] = doc["paths"].pop(
        "/api/v1/me/social-accounts/{provider}/link"
    )


def _media(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    media: dict[str, Any] = _op(doc, path, method)["responses"][status]["content"]["application/json"]
    return media


def _error_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    name = _media(doc, path, method, status)["schema"]["$ref"].rsplit("/", 1)[-1]
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return schema


def _no_code_enum(doc: dict[str, Any]) -> None:
    _error_schema(doc, REGISTER, "post", "409")["properties"]["code"].pop("enum")


def _example_code_not_listed(doc: dict[str, Any]) -> None:
    _media(doc, REGISTER, "post", "409")["examples"]["email_taken"]["value"]["code"] = "validation_error"


def _code_without_example(doc: dict[str, Any]) -> None:
    _media(doc, REGISTER, "post", "409")["examples"].pop("username_taken")


def _example_off_schema(doc: dict[str, Any]) -> None:
    _media(doc, REGISTER, "post", "409")["examples"]["email_taken"]["value"]["details"] = "none"


def _success_without_example(doc: dict[str, Any]) -> None:
    _media(doc, ME, "get", "200").pop("example")


def _success_example_off_schema(doc: dict[str, Any]) -> None:
    _media(doc, ME, "get", "200")["example"]["id"] = 42


def _ecmascript_blank(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["WebauthnRenameIn"]["properties"]["name"]["pattern"] = r"\S"


BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "missing operationId": (lambda doc: _op(doc, ME, "get").pop("operationId"), "no operationId"),
    "unreadable operationId": (
        lambda doc: _op(doc, ME, "get").update(operationId="accounts_api_me_get2X"),
        "is not snake_case",
    ),
    "duplicate operationId": (_duplicate_id, "duplicates"),
    "no tag": (lambda doc: _op(doc, ME, "get").pop("tags"), "no tag"),
    "no summary": (lambda doc: _op(doc, ME, "get").update(summary=" "), "no summary"),
    "error not in ErrorOut": (_error_not_error_out, "409 does not use the ErrorOut schema"),
    "no error response": (_no_error_responses, "no error response declared"),
    "no 500": (_drop_response(ME, "get", "500"), "500 (server_error) not declared"),
    "body without 400": (_drop_response(REGISTER, "post", "400"), "does not declare 400"),
    "body without 413": (_drop_response(REGISTER, "post", "413"), "does not declare 413"),
    "body without 422": (_drop_response(REGISTER, "post", "422"), "does not declare 422"),
    "parameters without 422": (_drop_response(SESSIONS, "get", "422"), "has parameters but"),
    "uuid path parameter without 422": (
        _drop_response("/api/v1/me/sessions/{session_id}", "delete", "422"),
        "has parameters but",
    ),
    "bearer without 401": (_drop_response(ME, "get", "401"), "does not declare 401"),
    "body without examples": (_no_examples, "request body has no examples"),
    "429 without Retry-After": (
        lambda doc: _op(doc, REGISTER, "post")["responses"]["429"].pop("headers"),
        "Retry-After",
    ),
    "not 3.1": (lambda doc: doc.update(openapi="3.0.3"), "not 3.1"),
    "no description": (lambda doc: _op(doc, ME, "get").pop("description"), "no description of what it does"),
    "description of auth and limit only": (
        lambda doc: _op(doc, ME, "get").update(description="**Auth:** none.\n\n**Rate limit:** none per IP."),
        "no description of what it does",
    ),
    "description without auth": (
        lambda doc: _op(doc, ME, "get").update(description="Reads the user."),
        "does not state auth",
    ),
    "error without a code enum": (_no_code_enum, "lists no error codes"),
    "error example with an unlisted code": (_example_code_not_listed, "has a code not in its enum"),
    "error code without an example": (_code_without_example, "no example of the code 'username_taken'"),
    "error example off its schema": (_example_off_schema, "does not fit its schema"),
    "success without example": (_success_without_example, "200 has no example"),
    "success example off its schema": (_success_example_off_schema, "200 example does not fit its schema"),
    "overlapping paths": (_link_at_the_unlink_path, "overlap: one URL matches both"),
    "not-blank pattern that lets NEL through": (_ecmascript_blank, "lets NEL through"),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_rule_fires_on_a_broken_document(document: dict[str, Any], name: str) -> None:
    broken = copy.deepcopy(document)
    breakage, expected = BREAKAGES[name]
    breakage(broken)
    found = problems(broken)
    assert any(expected in problem for problem in found), found


def test_multipart_upload_needs_no_example(document: dict[str, Any]) -> None:
    upload = copy.deepcopy(document)
    op = _op(upload, ME, "patch")
    op["requestBody"] = {
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            }
        },
        "required": True,
    }
    assert problems(upload) == []


def test_a_plain_string_path_parameter_needs_no_422(document: dict[str, Any]) -> None:
    """Any string matches (the route did), so such an operation cannot answer 422 for it."""
    doc = copy.deepcopy(document)
    op = _op(doc, "/api/v1/me/sessions/{session_id}", "delete")
    op["parameters"] = [{"in": "path", "name": "session_id", "required": True, "schema": {"type": "string"}}]
    op["responses"].pop("422")
    assert problems(doc) == []


def test_validator_rejects_an_invalid_document(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    _op(broken, ME, "get")["responses"]["200"] = {"description": 42}
    assert list(OpenAPIV31SpecValidator(broken).iter_errors())
