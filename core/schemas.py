from __future__ import annotations

import functools
from typing import Any

from ninja import Schema
from pydantic import Field, create_model

from core.errors import GENERIC_CODES, DomainError

# A string that is not blank: it has a character other than white space (JSON Schema's pattern, like
# pydantic's, searches). NEL (U+0085) is named: Unicode and pydantic's strip count it as white space,
# ECMAScript's \s (JSON Schema's regex dialect) does not, so a client validating against the document would
# otherwise send "\x85" as a name, which the server strips to nothing and refuses. Found by fuzzing.
NOT_BLANK = r"[^\s\x85]"


class ErrorOut(Schema):
    code: str = Field(..., examples=["validation_error"], description="Stable snake_case error code.")
    message: str = Field(..., examples=["The input did not validate."])
    details: dict[str, Any] = Field(
        ..., description="Machine-readable context: fields (422), retry_after (429), request_id (500)."
    )


class PageMeta(Schema):
    count: int
    limit: int
    offset: int


# The generic code of each status a generic handler answers with (config/api.py), e.g. 401 not_authenticated.
GENERIC_BY_STATUS: dict[int, str] = {status: code for code, (status, _) in GENERIC_CODES.items()}


# What answers a code: a DomainError class (its default message), an instance (a message of its own, as
# raised), or None (a generic handler).
Answerer = DomainError | type[DomainError] | None
Declared = tuple[tuple[str, Answerer], ...]


@functools.cache
def _declared(entries: Declared) -> type[ErrorOut]:
    """ErrorOut itself to the schema builder (the same name and fields), carrying the codes the operation
    declared for one status, each with what answers it (see Answerer);
    config/openapi.py turns them into that response's `code` enum and examples."""
    model: type[ErrorOut] = create_model("ErrorOut", __base__=ErrorOut, __module__=ErrorOut.__module__)
    model.__error_entries__ = entries  # type: ignore[attr-defined]
    return model


def declared_errors(model: Any) -> Declared:
    """The (code, answerer) pairs `errors(...)` recorded on a response model (empty for any other model)."""
    return tuple(getattr(model, "__error_entries__", ()))


def errors(*declared: int | type[DomainError] | DomainError) -> dict[int, type[ErrorOut]]:
    """The response map entries for the errors an operation can answer with.

    A status (`401`) stands for its generic code (`not_authenticated`, core.errors.GENERIC_CODES); a
    DomainError subclass (`accounts.errors.EmailTaken`) for its own code under its own status, and an
    instance for one raised with a message of its own (the documented example shows that message). The codes
    the framework adds by itself (malformed body, validation, throttling, bearer check, server error) are
    added by config/openapi.py from the operation's shape, so they need not be listed.
    """
    by_status: dict[int, dict[str, Answerer]] = {}
    for item in declared:
        if isinstance(item, int):
            if item not in GENERIC_BY_STATUS:
                raise ValueError(
                    f"status {item} has no generic code: name the DomainError classes it answers"
                )
            by_status.setdefault(item, {}).setdefault(GENERIC_BY_STATUS[item], None)
        else:
            codes = by_status.setdefault(int(item.status), {})
            if codes.get(str(item.code)) is None:
                codes[str(item.code)] = item
    return {status: _declared(tuple(codes.items())) for status, codes in by_status.items()}


def answer_example(status: int, value: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` showing the body an operation answers with `status`, when it is always the same
    (the generated examples of config/openapi.py would only guess at its text)."""
    return {"responses": {status: {"content": {"application/json": {"example": value}}}}}
