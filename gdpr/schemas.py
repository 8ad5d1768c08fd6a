from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool

from core.schemas import PageMeta


class DataRequestIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "export"}, {"type": "erasure"}]})
    type: Literal["export", "erasure"]


class DownloadOut(Schema):
    url: str = Field(..., description="Single link to the ZIP; no bearer token needed. Keep it private.")
    expires_at: datetime
    downloads_left: int
    size: int
    sha256: str


class DataRequestOut(Schema):
    id: uuid.UUID
    type: Literal["export", "erasure"]
    status: Literal[
        "pending",
        "awaiting_approval",
        "approved",
        "running",
        "ready",
        "completed",
        "expired",
        "failed",
        "rejected",
        "cancelled",
    ]
    progress: int = Field(..., ge=0, le=100)
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    scheduled_for: datetime | None = Field(None, description="Erasure: when the grace period ends.")
    reason: str = Field("", description="Erasure: why staff rejected it.")
    download: DownloadOut | None = Field(None, description="Export: present while the file is downloadable.")


class DataRequestPageOut(PageMeta):
    items: list[DataRequestOut]


class ConsentIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"granted": True}]})
    granted: StrictBool


class ConsentOut(Schema):
    purpose: str
    granted: bool
    policy_version: str | None = Field(None, description="The policy version of the latest record.")
    current_policy_version: str
    updated_at: datetime | None


class ConsentRecordOut(Schema):
    id: int
    purpose: str
    granted: bool
    policy_version: str
    source: str
    created_at: datetime


class ConsentListOut(Schema):
    items: list[ConsentOut]


class ConsentHistoryPageOut(PageMeta):
    items: list[ConsentRecordOut]
