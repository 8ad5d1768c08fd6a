from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import Field


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


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The response map entries for the error statuses an operation can return."""
    return {status: ErrorOut for status in statuses}
