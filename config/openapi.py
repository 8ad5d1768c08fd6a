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

Each error response names the codes it can carry: an `enum` on `code` in a schema shared by every response
with the same set of codes (`EmailTakenOrUsernameTakenError`), so generated SDKs get typed codes, and one
example per code with the message the API really answers. The codes are what the operation declared
(`errors(EmailTaken, 422)`, core/schemas.py) plus what its shape makes the framework answer: `bad_request`
(400), `payload_too_large` (413) and `validation_error` (422) with a body, `validation_error` with
parameters, the bearer check's codes (401) with auth, `rate_limited` (429) with a throttle, `server_error`
(500) always. tests/contract/recorder.py checks, over the whole test suite, that every error answered is
listed here.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

from django.conf import settings
from django.utils import translation
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from core.errors import DomainError, ServiceUnavailable
from core.schemas import Answerer, declared_errors

REF_PREFIX = "#/components/schemas/"
ERROR_REF = REF_PREFIX + "ErrorOut"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_STATUS_TEXT: dict[int, str] = dict(http.client.responses)

RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}


def error_out_schema() -> dict[str, Any]:
    from core.schemas import ErrorOut

    schema: dict[str, Any] = ErrorOut.model_json_schema(ref_template=REF_PREFIX + "{model}")
    return schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation of the document, in document order."""
    return [
        (method, path, operation)
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


# Values of the success examples by property name, then by format: what such a field holds in a real answer.
_EXAMPLE_BY_NAME: dict[str, Any] = {
    "email": "ada@example.com",
    "new_email": "ada.king@example.com",
    "username": "ada",
    "first_name": "Ada",
    "last_name": "King",
    "phone": "+44 20 7946 0000",
    "website": "https://ada.example.com",
    "bio": "Mathematician and writer.",
    "locale": "en",
    "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
    "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
    "token_type": "Bearer",
    "expires_in": 300,
    "detail": "Accepted.",
    "ip": "203.0.113.7",
    "ip_address": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
    "provider": "github",
    "purpose": "marketing_email",
    "policy_version": "2026-01",
    "action": "auth.login",
    "reason": "Requested by the account holder.",
    "name": "YubiKey 5C",
    "status": "ok",
    "mfa_token": "mfa_Yx3kP0qL8vN2sT6wZ1cB4dF7",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "is_staff": False,
    "count": 1,
    "limit": 20,
    "offset": 0,
}
_EXAMPLE_BY_FORMAT: dict[str, Any] = {
    "uuid": "3f1c2a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b",
    "date-time": "2026-01-15T09:30:00Z",
    "date": "1990-12-10",
    "uri": "https://app.example.com/",
    "email": "ada@example.com",
}


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str | None = None) -> Any:
    """An instance of `schema` as the API would answer it: the schema's own example if it has one, else
    built from its properties (named values above, formats, enums, defaults)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_of(components[ref.removeprefix(REF_PREFIX)], components, name)
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [option for option in schema[key] if option.get("type") != "null"]
            return example_of(options[0], components, name) if options else None
    if "allOf" in schema:
        return example_of(schema["allOf"][0], components, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            key: example_of(value, components, key) for key, value in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), components, name)]
    if name in _EXAMPLE_BY_NAME:
        value = _EXAMPLE_BY_NAME[name]
        kinds = {bool: "boolean", int: "integer", str: "string"}
        if kinds.get(type(value)) == kind or kind is None:
            return value
    if kind == "string" and name and name.endswith("url"):
        return f"https://app.example.com/{name.removesuffix('url').strip('_') or 'link'}"
    if "default" in schema:
        return schema["default"]
    if kind == "string":
        return _EXAMPLE_BY_FORMAT.get(schema.get("format", ""), name.replace("_", " ") if name else "text")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return None


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the Retry-After header and the scopes, sort the responses (in place; returns the schema)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", error_out_schema())
    for _method, _path, operation in operations(schema):
        # Ninja keys responses by int; JSON keys are strings either way.
        responses = {str(status): answer for status, answer in operation.get("responses", {}).items()}
        for status, answer in responses.items():
            if not status.startswith("2"):
                continue
            for media_type, content in answer.get("content", {}).items():
                if "json" in media_type and "example" not in content and "examples" not in content:
                    content["example"] = example_of(content.get("schema", {}), components)
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


# What the generic handlers (config/api.py, config/parsing.py) answer for each generic code: message and
# details of the examples. tests/contract/test_error_contract.py provokes them and compares.
GENERIC_ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "bad_request": ("The request body is not valid JSON.", {}),
    "not_authenticated": ("Authentication credentials were not provided.", {}),
    "forbidden": ("You do not have permission to perform this action.", {}),
    "not_found": ("Not found.", {}),
    "payload_too_large": ("The request body is larger than allowed.", {"max_bytes": 0}),
    "validation_error": ("The input did not validate.", {"fields": {}}),
    "rate_limited": ("Too many requests. Try again later.", {"retry_after": 60}),
    "server_error": ("Unexpected server error.", {"request_id": "0f6c1f6e5bd54f0c9d3f0e1a2b3c4d5e"}),
    "service_unavailable": (
        str(ServiceUnavailable.message),
        {
            "checks": {"database": "error", "cache": "ok", "queue": "ok"},
            "outbox": None,
        },
    ),
}

# Details a domain error carries, by code (the message comes from its class).
DOMAIN_DETAILS: dict[str, dict[str, Any]] = {
    "locked": {"retry_after": 300},
    "invalid_image": {"fields": {"file": ["The file is not a readable image."]}},
}


def schema_name(codes: list[str]) -> str:
    """The component of an error answer with these codes: `email_taken`, `username_taken` →
    `EmailTakenOrUsernameTakenError`; `validation_error` → `ValidationError`."""
    name = "Or".join("".join(part.capitalize() for part in code.split("_")) for code in sorted(codes))
    return name if name.endswith("Error") else name + "Error"


_STRING_ANNOTATIONS = {"type", "title", "description", "examples", "example", "default"}


def can_fail_validation(parameters: list[dict[str, Any]]) -> bool:
    """Query parameters always can (config/parsing.py refuses NUL and repeated values with 422); a path
    parameter can unless it is any string (the route matched, so it is present)."""
    for parameter in parameters:
        if parameter.get("in") != "path":
            return True
        schema = parameter.get("schema", {})
        if schema.get("type") != "string" or set(schema) - _STRING_ANNOTATIONS:
            return True
    return False


def _auth_text(operation: Operation) -> str:
    if not operation.auth_callbacks:
        return "**Auth:** none."
    doors = []
    for auth in operation.auth_callbacks:
        scope = getattr(auth, "scope", None)
        doors.append(f"bearer `{type(auth).__name__}`" + (f" with the scope `{scope}`" if scope else ""))
    return "**Auth:** " + " or ".join(doors) + "."


def _limit_text(operation: Operation) -> str:
    """The per-IP limits of the operation's throttles, at their configured rates (settings.RATE_LIMITS)."""
    limits = []
    for throttle in operation.throttle_objects:
        scope = getattr(throttle, "scope", None)
        if scope is None or (operation.auth_callbacks and getattr(throttle, "anonymous_only", False)):
            continue
        rate = settings.RATE_LIMITS[scope]
        counts = getattr(throttle, "counts_text", None)
        limits.append(f"`{scope}` {rate} per client IP" + (f" ({counts})" if counts else ""))
    if not limits:
        return "**Rate limit:** none per IP."
    return "**Rate limit:** " + "; ".join(limits) + "; over it 429 `rate_limited` with Retry-After."


class _Schema(OpenAPISchema):
    def operation_details(self, operation: Operation) -> dict[str, Any]:
        # What the operation does and its side effects come from its code (`description=`); who may call it
        # and its per-IP limits from its configuration, so they cannot drift.
        result: dict[str, Any] = super().operation_details(operation)
        parts = [str(operation.description or "").strip(), _auth_text(operation), _limit_text(operation)]
        result["description"] = "\n\n".join(part for part in parts if part)
        return result

    def responses(self, operation: Operation) -> dict[int, dict[str, Any]]:
        result = super().responses(operation)
        codes: dict[int, dict[str, Answerer]] = {}
        for status, model in operation.response_models.items():
            if isinstance(status, int) and status >= 400 and model is not None:
                codes[status] = dict(declared_errors(model.model_fields["response"].annotation))
        for status, code, cls in self._framework_codes(operation):
            listed = codes.setdefault(status, {})
            if listed.get(code) is None:
                listed[code] = cls
        for status, listed in codes.items():
            description = result.get(status, {}).get("description") or _STATUS_TEXT.get(status, "Error")
            result[status] = self._error_answer(operation, description, listed)
        return result

    def _framework_codes(self, operation: Operation) -> list[tuple[int, str, Answerer]]:
        sources = {model.__ninja_param_source__ for model in operation.models}
        found: list[tuple[int, str, Answerer]] = []
        if sources & {"body", "form", "file"}:
            found += [
                (400, "bad_request", None),
                (413, "payload_too_large", None),
                (422, "validation_error", None),
            ]
        elif can_fail_validation(self.operation_parameters(operation)):
            found.append((422, "validation_error", None))
        for auth in operation.auth_callbacks:
            found.append((401, "not_authenticated", None))
            found += [(int(cls.status), str(cls.code), cls) for cls in getattr(auth, "error_types", ())]
        if _may_be_throttled(operation):
            found.append((429, "rate_limited", None))
        found.append((500, "server_error", None))
        return found

    def _error_answer(
        self, operation: Operation, description: str, entries: dict[str, Answerer]
    ) -> dict[str, Any]:
        codes = list(entries)
        name = schema_name(codes)
        base = error_out_schema()
        self.schemas[name] = {
            **base,
            "title": name,
            "properties": {
                **base["properties"],
                "code": {**base["properties"]["code"], "enum": sorted(codes), "examples": [codes[0]]},
            },
        }
        examples = {}
        for code, answerer in entries.items():
            if answerer is None:
                message, details = GENERIC_ANSWERS[code]
            else:
                with translation.override("en"):
                    message = str(answerer.message)
                own = answerer.details if isinstance(answerer, DomainError) else None
                details = own or DOMAIN_DETAILS.get(code, {})
            examples[code] = {
                "value": {
                    "code": code,
                    "message": message,
                    "details": self._details(operation, code, details),
                }
            }
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": REF_PREFIX + name}, "examples": examples}},
        }

    def _details(self, operation: Operation, code: str, details: dict[str, Any]) -> dict[str, Any]:
        if code == "validation_error" and details == {"fields": {}}:
            return {"fields": {self._first_field(operation): ["Field required"]}}
        if code == "payload_too_large":
            return {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
        return details

    def _first_field(self, operation: Operation) -> str:
        body = self.request_body(operation)
        for content in body.get("content", {}).values():
            schema = content.get("schema", {})
            ref = schema.get("$ref", "")
            schema = self.schemas.get(ref.rsplit("/", 1)[-1], schema) if ref else schema
            for field in schema.get("required", []) or list(schema.get("properties", {})):
                return str(field)
        for parameter in self.operation_parameters(operation):
            return str(parameter["name"])
        return "__all__"


class CustodianAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return complete(_Schema(self, path_prefix))


def render(api: NinjaAPI) -> str:
    """The document as committed in docs/openapi.json (two-space indent, final newline): the same bytes for
    the same code, since ninja builds it in declaration order."""
    return json.dumps(api.get_openapi_schema(), indent=2, ensure_ascii=False) + "\n"
