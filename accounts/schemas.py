from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from accounts.models import USERNAME_PATTERN
from config.schemas import PageMeta


def _email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("Enter a valid e-mail address.")
    return value


def _username(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not re.fullmatch(USERNAME_PATTERN, value):
        raise ValueError("3–30 characters: letters, digits, '.', '_' or '-'.")
    return value


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Username = Annotated[str | None, AfterValidator(_username)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Name = Annotated[str, StringConstraints(max_length=150, strip_whitespace=True)]


class RegisterIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ada@example.com",
                    "password": "correct-horse-battery",
                    "username": "ada",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                }
            ]
        }
    )
    email: Email
    password: Password
    username: Username = None
    first_name: Name = ""
    last_name: Name = ""


class VerifyEmailIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"key": "eyJ1Ijoi…"}]})
    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ResendIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})
    email: Email


class LoginIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"login": "ada@example.com", "password": "correct-horse-battery"}]}
    )
    login: Annotated[str, StringConstraints(min_length=1, max_length=254)] = Field(
        ..., description="E-mail address or username."
    )
    password: Password


class RefreshIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh": "eyJhbGciOi…"}]})
    refresh: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokenVerifyIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "eyJhbGciOi…"}]})
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class TokenPairOut(Schema):
    access: str
    refresh: str
    token_type: str = "Bearer"
    expires_in: int = Field(..., description="Seconds until the access token expires.")
    refresh_expires_at: datetime
    session_id: uuid.UUID


class TokenVerifyOut(Schema):
    valid: bool
    token_type: str
    session_id: uuid.UUID
    expires_at: datetime


class AcceptedOut(Schema):
    detail: str


class ProfileOut(Schema):
    phone: str
    birth_date: date | None
    website: str
    bio: str
    locale: str
    avatar_url: str | None = None
    avatar_thumbnail_url: str | None = None


class UserOut(Schema):
    id: uuid.UUID
    email: str
    username: str | None
    first_name: str
    last_name: str
    email_verified: bool
    is_staff: bool
    date_joined: datetime
    profile: ProfileOut | None


class MeUpdateIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"first_name": "Ada", "last_name": "King", "username": "countess"}]}
    )
    first_name: Name | None = None
    last_name: Name | None = None
    username: Username = None


class DeleteMeIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"password": "correct-horse-battery"}]})
    password: Password


class SessionOut(Schema):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str
    via: str
    revoked_at: datetime | None
    revoke_reason: str
    current: bool = False


class SessionPageOut(PageMeta):
    items: list[SessionOut]


class SessionListQuery(Schema):
    include_ended: bool = False


class LogoutAllQuery(Schema):
    keep_current: bool = False


class SecurityEventOut(Schema):
    """One event of the user's own audit trail. Who acted is told by kind (you, staff, the system), not by id."""

    id: int
    created_at: datetime
    action: str = Field(..., examples=["auth.login"])
    actor_type: str = Field(..., examples=["user"], description="user, staff or system")
    ip: str | None
    user_agent: str
    details: dict[str, Any]


class SecurityEventPageOut(PageMeta):
    items: list[SecurityEventOut]
