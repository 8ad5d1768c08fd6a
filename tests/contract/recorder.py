"""Every error answer the API gives during a test run, checked against the OpenAPI document at its end.

`install()` wraps config.api.error_response, the one function every error handler of the API answers
through, so each (method, path, status, code) answered is recorded, whichever test provoked it. At the end
of the session (tests/conftest.py, `pytest_sessionfinish`) `unlisted(...)` names every answer whose code is
not in the `code` enum of its operation's response for that status, and the run fails. So an operation that
starts raising a new error without declaring it (`errors(...)`, core/schemas.py) fails the suite as soon as
any test provokes it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.utils import translation

from config.openapi import REF_PREFIX, operations

# (method, path, status, code) of every error answered through config.api.error_response, with the
# messages answered for each.
RECORDED: dict[tuple[str, str, int, str], set[str]] = {}


def install() -> None:
    from config import api as config_api

    original: Callable[..., Any] = config_api.error_response
    if getattr(original, "recording", False):
        return

    @functools.wraps(original)
    def recording(request: Any, *, status: int, code: str, message: str, **kwargs: Any) -> Any:
        key = (str(request.method), str(request.path), int(status), str(code))
        messages = RECORDED.setdefault(key, set())
        # The examples are the English texts: answers in another language (Accept-Language) count for
        # their code only.
        if (translation.get_language() or "en").startswith("en"):
            messages.add(str(message))
        return original(request, status=status, code=code, message=message, **kwargs)

    recording.recording = True  # type: ignore[attr-defined]
    config_api.error_response = recording


def _matchers(document: dict[str, Any]) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    """Literal templates before templated ones, so `/me/consents/history` wins over `/me/consents/{purpose}`
    as it does in the URLconf."""
    found = []
    for method, path, op in operations(document):
        pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
        found.append((pattern, method, op))
    return sorted(found, key=lambda item: item[0].pattern.count("[^/]+"))


def listed_codes(document: dict[str, Any], op: dict[str, Any], status: int) -> set[str]:
    answer = op.get("responses", {}).get(str(status))
    if answer is None:
        return set()
    ref = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
    schema = document["components"]["schemas"].get(ref.removeprefix(REF_PREFIX), {})
    return set(schema.get("properties", {}).get("code", {}).get("enum", []))


def answered(
    recorded: Iterable[tuple[str, str, int, str]], document: dict[str, Any]
) -> dict[tuple[str, int, str], list[tuple[str, str, int, str]]]:
    """The recorded answers by (operationId, status, code). Answers to paths of no operation (unknown URLs,
    wrong methods: the envelope middleware's) belong to none and are left out."""
    matchers = _matchers(document)
    found: dict[tuple[str, int, str], list[tuple[str, str, int, str]]] = {}
    for key in recorded:
        method, path, status, code = key
        op = next((op for pattern, m, op in matchers if m == method.lower() and pattern.match(path)), None)
        if op is not None:
            found.setdefault((op["operationId"], status, code), []).append(key)
    return found


def unlisted(recorded: Iterable[tuple[str, str, int, str]], document: dict[str, Any]) -> list[str]:
    """`operationId status code` of each recorded answer whose code the document does not list for its
    operation and status."""
    ops = {op["operationId"]: op for _, _, op in operations(document)}
    return sorted(
        f"{op_id} {status} {code}"
        for op_id, status, code in answered(recorded, document)
        if code not in listed_codes(document, ops[op_id], status)
    )


# Codes of request parsing: one handler answers them for every operation, so a message it answered anywhere
# in the run is one it answers for each.
PARSING_CODES = {"bad_request", "payload_too_large", "validation_error"}


def untrue_examples(
    recorded: dict[tuple[str, str, int, str], set[str]], document: dict[str, Any]
) -> list[str]:
    """Examples whose message the operation never answered with, though the run provoked their code there:
    an example shows what the API really says."""
    ops = {op["operationId"]: op for _, _, op in operations(document)}
    parsing: dict[tuple[int, str], set[str]] = {}
    for (_method, _path, status, code), messages in recorded.items():
        if code in PARSING_CODES:
            parsing.setdefault((status, code), set()).update(messages)
    found = []
    for (op_id, status, code), keys in sorted(answered(recorded, document).items()):
        answer = ops[op_id].get("responses", {}).get(str(status), {})
        example = answer.get("content", {}).get("application/json", {}).get("examples", {}).get(code)
        if example is None:
            continue
        messages = set().union(*(recorded[key] for key in keys), parsing.get((status, code), set()))
        if not messages:
            continue  # answered in other languages only
        if example["value"]["message"] not in messages:
            found.append(
                f"{op_id} {status} {code}: example {example['value']['message']!r}, answered {sorted(messages)}"
            )
    return found
