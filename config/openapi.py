"""The OpenAPI document as SDK generators need it.

Handlers declare the statuses their code returns (`response={200: Out, **errors(400, 401, 422)}`). Two
statuses come from the framework itself, on every operation of a kind, so they are added here rather than
repeated by hand (and forgotten by the next router): 500 `server_error` on every operation, and 413
`payload_too_large` on every operation with a request body. 429 is declared on every operation a throttle
can refuse (the anonymous per-IP ceiling makes that every operation open without a token, health checks
aside). Every 429 answer carries `Retry-After`, and the document says so. An operation that needs a scope (the admin
API's, `openapi_extra={"x-scopes": [...]}`) names it as the role of its security requirement, as OpenAPI 3.1
allows for schemes other than OAuth2. tests/contract/test_openapi.py checks the result; `manage.py export_openapi`
writes it to docs/openapi.json.
"""

from __future__ import annotations

import json
from typing import Any

from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

ERROR_REF = "#/components/schemas/ErrorOut"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_FRAMEWORK_STATUSES = {
    "413": "Payload Too Large",
    "500": "Internal Server Error",
}

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of the document, in document order."""
    return [
        (method, path, operation)
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the framework's own error answers and the Retry-After header (in place; returns the schema)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in components:
        from core.schemas import ErrorOut

        components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for _method, _path, operation in operations(schema):
        # Ninja keys responses by int; JSON keys are strings either way.
        responses = {str(status): answer for status, answer in operation.get("responses", {}).items()}
        if "requestBody" in operation:
            responses.setdefault("413", _error_response(_FRAMEWORK_STATUSES["413"]))
        responses.setdefault("500", _error_response(_FRAMEWORK_STATUSES["500"]))
        if "429" in responses:
            responses["429"].setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        operation["responses"] = dict(sorted(responses.items()))
        scopes = operation.pop("x-scopes", None)
        if scopes:
            operation["security"] = [
                {scheme: list(scopes)}
                for requirement in operation.get("security", [])
                for scheme in requirement
            ]
    return schema


def _may_be_throttled(operation: Operation) -> bool:
    """Whether a throttle of the operation can refuse a request: any of them, except that a throttle for
    anonymous requests only never refuses on an operation that needs a token."""
    return any(
        not (operation.auth_callbacks and getattr(throttle, "anonymous_only", False))
        for throttle in operation.throttle_objects
    )


class _Schema(OpenAPISchema):
    def responses(self, operation: Operation) -> dict[int, dict[str, Any]]:
        # 429 comes from the throttles the operation really runs (the API-wide anonymous ceiling included),
        # so the document cannot forget it on a new anonymous operation.
        result = super().responses(operation)
        if 429 not in result and _may_be_throttled(operation):
            result[429] = _error_response("Too Many Requests")
        return result


class CustodianAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return complete(_Schema(self, path_prefix))


def render(api: NinjaAPI) -> str:
    """The document as committed in docs/openapi.json (two-space indent, final newline): the same bytes for
    the same code, since ninja builds it in declaration order."""
    return json.dumps(api.get_openapi_schema(), indent=2, ensure_ascii=False) + "\n"
