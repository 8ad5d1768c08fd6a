from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from accounts import selectors
from accounts.models import USERNAME_PATTERN, Profile, User
from audit import selectors as audit_selectors
from core.schemas import PageMeta


def _email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError(gettext("Enter a valid e-mail address."))
    return value


def _username(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not re.fullmatch(USERNAME_PATTERN, value):
        raise ValueError(gettext("3–30 characters: letters, digits, '.', '_' or '-'."))
    return value


def _date_text(value: object) -> object:
    # pydantic would read a number as a Unix timestamp (0 → 1970-01-01); a date here is YYYY-MM-DD text.
    if value is not None and not isinstance(value, (str, date)):
        raise ValueError(gettext("Enter a date as YYYY-MM-DD."))
    return value


# The documented schemas say what the validators accept, so SDK users and the fuzzer see the same rules.
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
Username = Annotated[
    str | None,
    AfterValidator(_username),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": f"^$|{USERNAME_PATTERN}"}, {"type": "null"}],
            "description": "3–30 characters: letters, digits, '.', '_' or '-'; empty or null for none.",
        }
    ),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# A password being set. The document states the policy's length bounds; the policy itself (Django's
# validators: length, common, all-numeric, too similar) checks them, so the 422 lists every reason at once.
NewPassword = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": settings.PASSWORD_MIN_LENGTH,
            "maxLength": settings.PASSWORD_MAX_LENGTH,
            "description": "Common, all-numeric and too-similar passwords are refused too (422).",
        }
    ),
]
Name = Annotated[str, StringConstraints(max_length=150, strip_whitespace=True)]
MfaMethod = Literal["totp", "webauthn", "recovery_codes"]
# A second factor typed to confirm a sensitive change: a code of the authenticator app or a recovery code.
Otp = Annotated[str, StringConstraints(min_length=1, max_length=64)]
OTP_DESCRIPTION = (
    "With MFA on: a code of your authenticator app, or a recovery code. Not needed when this session's login "
    "used your second factor within the re-auth window (else 403 `second_factor_required`)."
)


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
    password: NewPassword
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
    avatar_url: str | None = Field(None, description="The re-encoded avatar (WebP), or null.")
    avatar_thumbnail_url: str | None = Field(None, description="A square thumbnail of the avatar, or null.")

    @staticmethod
    def resolve_avatar_url(obj: Profile) -> str | None:
        return selectors.media_url(name=obj.avatar)

    @staticmethod
    def resolve_avatar_thumbnail_url(obj: Profile) -> str | None:
        return selectors.media_url(name=obj.avatar_thumbnail)


class MfaSummaryOut(Schema):
    enabled: bool = Field(..., description="Whether logins need a second factor.")
    methods: list[MfaMethod] = Field(..., description="The second factors that are on.")


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
    mfa: MfaSummaryOut

    @staticmethod
    def resolve_mfa(obj: User) -> dict[str, Any]:
        return {"enabled": obj.mfa_enabled, "methods": list(obj.mfa_methods)}


def user_out(user: User) -> UserOut:
    """UserOut for a user the service loaded itself, built without validating our own data again (ninja
    then only dumps it, as for any UserOut instance): field for field what UserOut.model_validate(user)
    gives (tests/perf/test_hot_path_parity.py compares them)."""
    try:
        profile: Profile | None = user.profile
    except Profile.DoesNotExist:
        profile = None
    return UserOut.model_construct(
        id=user.id,
        email=user.email,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        email_verified=user.email_verified,
        is_staff=user.is_staff,
        date_joined=user.date_joined,
        profile=None
        if profile is None
        else ProfileOut.model_construct(
            phone=profile.phone,
            birth_date=profile.birth_date,
            website=profile.website,
            bio=profile.bio,
            locale=profile.locale,
            avatar_url=ProfileOut.resolve_avatar_url(profile),
            avatar_thumbnail_url=ProfileOut.resolve_avatar_thumbnail_url(profile),
        ),
        mfa=MfaSummaryOut.model_construct(enabled=user.mfa_enabled, methods=list(user.mfa_methods)),
    )


class MeUpdateIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first_name": "Ada",
                    "last_name": "King",
                    "username": "countess",
                    "phone": "+44 20 7946 0000",
                    "birth_date": "1990-12-10",
                    "website": "https://github.com/ada",
                    "bio": "Analyst of engines.",
                    "locale": "en-GB",
                }
            ]
        }
    )
    first_name: Name | None = None
    last_name: Name | None = None
    username: Username = None
    phone: Annotated[str, StringConstraints(max_length=32, strip_whitespace=True)] | None = None
    birth_date: Annotated[date | None, BeforeValidator(_date_text)] = Field(
        None, description="YYYY-MM-DD, between 1900-01-01 and today."
    )
    website: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] | None = Field(
        None, description="An http(s) address, e.g. a GitHub profile."
    )
    bio: Annotated[str, StringConstraints(max_length=2000)] | None = None
    locale: Annotated[str, StringConstraints(max_length=16, strip_whitespace=True)] | None = Field(
        None, description="A language tag such as en, de-CH or pt_BR."
    )


class DeleteMeIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"password": "correct-horse-battery"},
                {"password": "correct-horse-battery", "otp": "123456"},
            ]
        }
    )
    password: Password | None = Field(
        None,
        description="Required when the account has a password; social-only accounts need a recent login.",
    )
    otp: Otp | None = Field(None, description=OTP_DESCRIPTION)


class SessionOut(Schema):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str
    via: str
    amr: list[str] = Field(
        ..., description="How the login was authenticated (RFC 8176 values, see docs/mfa.md)."
    )
    revoked_at: datetime | None
    revoke_reason: str
    current: bool = False


class SessionPageOut(PageMeta):
    items: list[SessionOut]


class SessionListQuery(Schema):
    include_ended: bool = False


class LogoutAllQuery(Schema):
    keep_current: bool = False


class PasswordResetIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})
    email: Email


class PasswordResetConfirmIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"uid": "MGYzYjA4…", "token": "cbx3zq-5f1e…", "new_password": "a-new-long-passphrase"}
            ]
        }
    )
    uid: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        ..., description="The uid query parameter of the link."
    )
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        ..., description="The token query parameter of the link."
    )
    new_password: Password


class PasswordChangeIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"current_password": "correct-horse-battery", "new_password": "a-new-long-passphrase"}
            ]
        }
    )
    current_password: Password
    new_password: Password
    otp: Otp | None = Field(None, description=OTP_DESCRIPTION)


class PasswordChangedOut(Schema):
    detail: str
    sessions_ended: int = Field(..., description="How many other sessions were ended.")


class EmailChangeIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"new_email": "ada@new.example", "password": "correct-horse-battery"}]
        }
    )
    new_email: Email
    password: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None, description="Needed unless the session was opened by a login within the re-auth window."
    )
    otp: Otp | None = Field(None, description=OTP_DESCRIPTION)


class EmailChangeConfirmIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"key": "eyJ1Ijoi…"}]})
    key: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        ..., description="The key query parameter of the link mailed to the new address."
    )


class SecurityEventOut(Schema):
    """One event of the user's own audit trail. Who acted is told by kind (you, staff, the system), not by id."""

    id: int
    created_at: datetime
    action: str = Field(..., examples=["auth.login"])
    actor_type: str = Field(..., examples=["user"], description="user, staff or system")
    ip: str | None = Field(..., description="Where the request came from; null for an action of staff.")
    user_agent: str = Field(..., description="The client's user agent; empty for an action of staff.")
    details: dict[str, Any]

    @staticmethod
    def resolve_ip(obj: Any) -> str | None:
        return obj.ip if _origin_visible(obj) else None

    @staticmethod
    def resolve_user_agent(obj: Any) -> str:
        return str(obj.user_agent) if _origin_visible(obj) else ""


def _origin_visible(event: Any) -> bool:
    # The trail is the subject's own: the subject is the one who reads it.
    return audit_selectors.event_origin_visible(
        actor_type=event.actor_type, actor_id=event.actor_id, viewer_id=event.subject_id
    )


class SecurityEventPageOut(PageMeta):
    items: list[SecurityEventOut]
