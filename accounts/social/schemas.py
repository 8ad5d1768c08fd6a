from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

from accounts.schemas import OTP_DESCRIPTION, Otp, TokenPairOut
from core.schemas import PageMeta

Token = Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class SocialCredentialsIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6…"},
                {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a"},
                {"code": "e72e16c7e42f292c6912", "redirect_uri": "https://app.example.com/oauth/github"},
            ]
        }
    )
    id_token: Token | None = Field(None, description="google: the OpenID Connect ID token.")
    access_token: Token | None = Field(None, description="github, facebook: the user's OAuth access token.")
    code: Token | None = Field(None, description="github: an authorization code, exchanged by the server.")
    redirect_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = Field(
        None, description="github: the redirect_uri the code was issued for."
    )


class SocialLinkIn(SocialCredentialsIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6…", "password": "correct-horse-battery"},
                {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a"},
            ]
        }
    )
    password: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        None,
        description=(
            "Your password, to confirm it is you; not needed on a session opened by a login within the "
            "re-auth window. Wrong passwords count toward the account's login lockout."
        ),
    )
    otp: Otp | None = Field(None, description=OTP_DESCRIPTION)


class SocialLoginOut(TokenPairOut):
    user_created: bool = Field(..., description="True when this login created the account.")


class SocialAccountOut(Schema):
    id: int
    provider: str
    uid: str
    email: str | None = Field(None, description="The e-mail address the provider reported, if any.")
    display_name: str
    linked_at: datetime
    last_login_at: datetime

    @staticmethod
    def resolve_email(obj: Any) -> str | None:
        value = (obj.extra_data or {}).get("email")
        return value if isinstance(value, str) else None

    @staticmethod
    def resolve_display_name(obj: Any) -> str:
        data = obj.extra_data or {}
        for key in ("name", "login", "email"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])
        return str(obj.uid)

    @staticmethod
    def resolve_linked_at(obj: Any) -> datetime:
        return obj.date_joined  # type: ignore[no-any-return]

    @staticmethod
    def resolve_last_login_at(obj: Any) -> datetime:
        return obj.last_login  # type: ignore[no-any-return]


class SocialAccountPageOut(PageMeta):
    items: list[SocialAccountOut]
