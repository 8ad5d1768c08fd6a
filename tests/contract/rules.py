"""The rules an OpenAPI document of Custodian keeps so that generated SDKs parse every answer.

`problems(document)` lists every broken rule; tests/contract/test_openapi.py asserts it is empty for the
live document, and that each rule fires on a document that breaks it.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from config.openapi import HTTP_METHODS, can_fail_validation, operations

OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


def _label(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = document
        for part in ref[2:].split("/"):
            node = node.get(part, {})
        return node
    return schema


def _has_examples(document: dict[str, Any], request_body: dict[str, Any]) -> bool:
    """JSON bodies carry examples (a file upload's multipart body has nothing useful to show)."""
    media = request_body.get("content", {})
    if not media:
        return False
    for media_type, content in media.items():
        if "json" not in media_type:
            continue
        if content.get("example") is not None or content.get("examples"):
            continue
        schema = _resolve(document, content.get("schema", {}))
        if not (schema.get("examples") or schema.get("example") is not None):
            return False
    return True


def _example_problems(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` is not an instance of `schema` (its $refs resolved in the document's components)."""
    root = {**schema, "components": document.get("components", {})}
    return [error.message for error in Draft202012Validator(root).iter_errors(value)]


def _error_problems(document: dict[str, Any], label: str, status: str, answer: dict[str, Any]) -> list[str]:
    """An error answer uses an ErrorOut-shaped schema whose `code` is an enum of the codes it can carry, and
    shows one valid example per code."""
    content = answer.get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    target = _resolve(document, schema)
    envelope = document.get("components", {}).get("schemas", {}).get("ErrorOut", {})
    if (
        "$ref" not in schema
        or set(target.get("properties", {})) != set(envelope.get("properties", {}))
        or set(target.get("required", [])) != set(envelope.get("required", []))
    ):
        return [f"{label}: {status} does not use the ErrorOut schema"]
    codes = target["properties"]["code"].get("enum") or []
    if not codes:
        return [f"{label}: {status} lists no error codes (no enum on `code`)"]
    found = []
    examples = content.get("examples") or {}
    shown = {example.get("value", {}).get("code") for example in examples.values()}
    for code in codes:
        if code not in shown:
            found.append(f"{label}: {status} has no example of the code {code!r}")
    for name, example in examples.items():
        value = example.get("value", {})
        if value.get("code") not in codes:
            found.append(
                f"{label}: {status} example {name!r} has a code not in its enum: {value.get('code')!r}"
            )
        elif not str(value.get("message", "")).strip():
            found.append(f"{label}: {status} example {name!r} has no message")
        for message in _example_problems(document, schema, value):
            found.append(f"{label}: {status} example {name!r} does not fit its schema: {message}")
    return found


def _success_problems(document: dict[str, Any], label: str, status: str, answer: dict[str, Any]) -> list[str]:
    found = []
    for media_type, content in answer.get("content", {}).items():
        if "json" not in media_type:
            continue
        schema = content.get("schema", {})
        target = _resolve(document, schema)
        if "example" in content:
            values = [content["example"]]
        elif content.get("examples"):
            values = [example.get("value") for example in content["examples"].values()]
        else:
            values = list(target.get("examples", []))
        if not values:
            found.append(f"{label}: {status} has no example")
        for value in values:
            for message in _example_problems(document, schema, value):
                found.append(f"{label}: {status} example does not fit its schema: {message}")
    return found


# Overlapping paths that are known and not yet changed (each pair: the path that wins, the path it shadows).
KNOWN_OVERLAPS = {
    # PUT /me/consents/history reaches the history route and answers 405; "history" is not a purpose.
    ("/api/v1/me/consents/history", "/api/v1/me/consents/{purpose}"),
}


def _segments_overlap(a: str, b: str, integers: set[str]) -> bool:
    """Whether one URL segment can match both template segments. A parameter typed integer (a Django `int`
    converter) matches only digits, so it never matches a literal word such as `options`."""
    if a == b:
        return True
    for param, other in ((a, b), (b, a)):
        if param.startswith("{") and not other.startswith("{"):
            return param not in integers or other.isdigit()
    return a.startswith("{") and b.startswith("{")


def integer_parameters(document: dict[str, Any]) -> dict[str, set[str]]:
    """Per path template, its path parameters (as `{name}`) whose schema is an integer in every operation."""
    found: dict[str, set[str]] = {}
    for path, item in document.get("paths", {}).items():
        names: set[str] | None = None
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            ints = {
                "{" + p["name"] + "}"
                for p in op.get("parameters", [])
                if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
            }
            names = ints if names is None else names & ints
        found[path] = names or set()
    return found


def path_overlaps(paths: list[str], integers: dict[str, set[str]] | None = None) -> list[tuple[str, str]]:
    """Pairs of distinct path templates that one URL can match (`/x/{id}` and `/x/{provider}`, or `/x/{id}`
    and `/x/list`). The router takes the first that matches whatever the method, so a method of the other
    template would answer 405 there instead of its own 404/422."""
    integers = integers or {}
    found = []
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            sa, sb = a.strip("/").split("/"), b.strip("/").split("/")
            ints = integers.get(a, set()) | integers.get(b, set())
            if len(sa) == len(sb) and all(_segments_overlap(x, y, ints) for x, y in zip(sa, sb, strict=True)):
                found.append((a, b))
    return found


def _patterns(node: Any, name: str = "") -> list[tuple[str, str]]:
    """(schema name, pattern) of every `pattern` under the component schemas."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.append((name, node["pattern"]))
        for key, value in node.items():
            found += _patterns(value, name or key)
    elif isinstance(node, list):
        for value in node:
            found += _patterns(value, name)
    return found


def problems(document: dict[str, Any]) -> list[str]:
    found: list[str] = []
    seen: dict[str, str] = {}
    if not str(document.get("openapi", "")).startswith("3.1"):
        found.append(f"openapi version is {document.get('openapi')!r}, not 3.1.x")
    for method, path, op in operations(document):
        label = _label(method, path)
        op_id = op.get("operationId")
        if not op_id:
            found.append(f"{label}: no operationId")
        elif not OPERATION_ID.match(op_id):
            found.append(f"{label}: operationId {op_id!r} is not snake_case <tag>_<verb>")
        elif op_id in seen:
            found.append(f"{label}: operationId {op_id!r} duplicates {seen[op_id]}")
        else:
            seen[op_id] = label
        if not op.get("tags"):
            found.append(f"{label}: no tag")
        if not str(op.get("summary", "")).strip():
            found.append(f"{label}: no summary")
        description = str(op.get("description", "")).strip()
        # config/openapi.py appends the auth and rate-limit lines; what the operation does comes first.
        if not description or description.startswith("**Auth:**"):
            found.append(f"{label}: no description of what it does")
        for line in ("**Auth:**", "**Rate limit:**"):
            if line not in description:
                found.append(f"{label}: description does not state {line.strip('*:').lower()}")
        responses = {str(k): v for k, v in op.get("responses", {}).items()}
        if not any(s.startswith("2") for s in responses):
            found.append(f"{label}: no 2xx response declared")
        errors = {s for s in responses if s[0] in "45"}
        if not errors:
            found.append(f"{label}: no error response declared")
        for status in sorted(errors):
            found += _error_problems(document, label, status, responses[status])
        for status in sorted(s for s in responses if s.startswith("2")):
            found += _success_problems(document, label, status, responses[status])
        if "500" not in responses:
            found.append(f"{label}: 500 (server_error) not declared")
        if "requestBody" in op:
            for status in ("400", "413", "422"):
                if status not in responses:
                    found.append(f"{label}: has a request body but does not declare {status}")
            if not _has_examples(document, op["requestBody"]):
                found.append(f"{label}: request body has no examples")
        elif can_fail_validation(op.get("parameters", [])) and "422" not in responses:
            found.append(f"{label}: has parameters but does not declare 422")
        if op.get("security", document.get("security")) and "401" not in responses:
            found.append(f"{label}: needs a bearer token but does not declare 401")
        if "429" in responses and "Retry-After" not in responses["429"].get("headers", {}):
            found.append(f"{label}: 429 does not declare the Retry-After header")
    for name, pattern in _patterns(document.get("components", {}).get("schemas", {})):
        if "\\S" in pattern:
            # ECMAScript's \S (the document's regex dialect) matches NEL (U+0085), which the server strips
            # as white space: a client checking the document would send a blank name. core.schemas.NOT_BLANK.
            found.append(f"schema {name}: pattern {pattern!r} uses \\S, which lets NEL through as not blank")
    for a, b in path_overlaps(list(document.get("paths", {})), integer_parameters(document)):
        if (a, b) not in KNOWN_OVERLAPS:
            found.append(f"paths {a} and {b} overlap: one URL matches both")
    return found
