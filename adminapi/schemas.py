from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

from core.pagination import PageParams
from core.schemas import NOT_BLANK, PageMeta

ErasureStatus = Literal[
    "awaiting_approval", "approved", "running", "completed", "rejected", "cancelled", "failed"
]


class UserSearchParams(PageParams):
    # No NUL (the API refuses it in a query parameter, config/parsing.py): the document says so.
    q: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^\x00]*$")] = Field(
        "", description="A user id, or a fragment of the e-mail address, username or name."
    )
    status: Literal["live", "deleted", "unverified", "staff"] | None = Field(
        None, description="Only live, deleted, unverified (live) or staff users."
    )


class AdminUserOut(Schema):
    id: uuid.UUID
    email: str = Field(..., description="Blank once the account is erased.")
    username: str | None
    first_name: str
    last_name: str
    is_active: bool = Field(..., description="False while deactivated: no login, no session.")
    is_staff: bool
    email_verified_at: datetime | None
    date_joined: datetime
    last_login: datetime | None
    deleted_at: datetime | None = Field(..., description="Set once the account is (soft-)deleted.")


class AdminUserPageOut(PageMeta):
    items: list[AdminUserOut]


class LogoutOut(Schema):
    sessions_ended: int = Field(..., ge=0, description="How many live sessions the force logout ended.")


class DeactivateIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Chargeback fraud, ticket 4711"}]})
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        "", description="Why; kept in the audit log."
    )


class RejectIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Open invoice; legal hold"}]})
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NOT_BLANK)] = (
        Field(..., description="Why the request is rejected; the user sees it on the request.")
    )


class AdminDataRequestOut(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
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
    source: str = Field(..., description="Who opened it: api (the user), account_deleted, admin_api, …")
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    decided_at: datetime | None = Field(..., description="Erasure: when staff approved or rejected it.")
    scheduled_for: datetime | None = Field(..., description="Erasure: when the grace period ends.")
    reason: str = Field(..., description="Erasure: why staff rejected it.")


class AdminDataRequestPageOut(PageMeta):
    items: list[AdminDataRequestOut]


class ErasureListParams(PageParams):
    status: ErasureStatus = Field("awaiting_approval", description="Requests in this status.")
