from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from allauth.mfa.models import Authenticator
from django.utils.translation import gettext
from ninja import Schema
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from accounts.mfa import selectors
from accounts.schemas import OTP_DESCRIPTION, MfaMethod, Otp, Password
from core.schemas import NOT_BLANK, PageMeta

# WebAuthn answers are small (a key, a signature, a few hundred bytes of JSON); anything far larger is not one.
CREDENTIAL_MAX_BYTES = 16384


def _credential_size(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > CREDENTIAL_MAX_BYTES:
        raise ValueError(
            gettext("A WebAuthn answer is at most %(limit)d bytes of JSON.") % {"limit": CREDENTIAL_MAX_BYTES}
        )
    return value


Credential = Annotated[
    dict[str, Any],
    AfterValidator(_credential_size),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "description": "The browser's answer as JSON: `credential.toJSON()` of the PublicKeyCredential "
            "that navigator.credentials returned (RegistrationResponseJSON / AuthenticationResponseJSON).",
        }
    ),
]
Token = Annotated[str, StringConstraints(min_length=1, max_length=128)]
KeyName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, strip_whitespace=True),
    # Blank names are refused after stripping: the document says a name has a character other than space.
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64, "pattern": NOT_BLANK}),
]
ReauthPassword = Annotated[
    Password | None,
    Field(None, description="Needed unless this session's login was within the re-auth window."),
]
ReauthOtp = Annotated[Otp | None, Field(None, description=OTP_DESCRIPTION)]
PublicKeyOptions = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "description": "WebAuthn options in their JSON form; pass them to "
            "PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON.",
        }
    ),
]


# --- login ---------------------------------------------------------------------------------------------


class MfaRequiredOut(Schema):
    """202 of a login whose first factor passed for a user with MFA: finish with POST /auth/mfa/verify."""

    status: Literal["mfa_required"] = "mfa_required"
    mfa_token: str = Field(..., description="Single use; send it with the second factor before expires_at.")
    expires_at: datetime
    methods: list[MfaMethod] = Field(..., description="The second factors this user can finish with.")
    webauthn: PublicKeyOptions | None = Field(
        None, description="Request options for the user's security keys and passkeys, when they have any."
    )


class MfaVerifyIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"mfa_token": "pB0h5Vq1sD…", "code": "123456"},
                {"mfa_token": "pB0h5Vq1sD…", "code": "k7m2q-x9c4d"},
                {"mfa_token": "pB0h5Vq1sD…", "credential": {"id": "…", "rawId": "…", "type": "public-key"}},
            ]
        }
    )
    mfa_token: Token
    code: Otp | None = Field(None, description="A code of the authenticator app, or a recovery code.")
    credential: Credential | None = Field(None, description="A WebAuthn assertion answering `webauthn`.")

    @model_validator(mode="after")
    def _one_factor(self) -> MfaVerifyIn:
        if (self.code is None) == (self.credential is None):
            raise ValueError(gettext("Send either `code` or `credential`."))
        return self


class PasskeyOptionsOut(Schema):
    passkey_token: str = Field(..., description="Single use; send it back with the passkey's answer.")
    expires_at: datetime
    public_key: PublicKeyOptions


class PasskeyVerifyIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"passkey_token": "r8Tz0…", "credential": {"id": "…", "rawId": "…", "type": "public-key"}}
            ]
        }
    )
    passkey_token: Token
    credential: Credential


# --- management ----------------------------------------------------------------------------------------


class MfaStatusOut(Schema):
    enabled: bool
    methods: list[MfaMethod]
    recovery_codes_left: int | None = Field(..., description="Unused recovery codes; null without MFA.")


class AuthenticatorOut(Schema):
    id: int
    type: Literal["totp", "webauthn", "recovery_codes"]
    name: str = Field(..., description="Your label of a security key or passkey; the kind for the others.")
    passwordless: bool | None = Field(
        ..., description="WebAuthn: whether it is a passkey (can log in on its own); null for other types."
    )
    created_at: datetime
    last_used_at: datetime | None

    @staticmethod
    def resolve_name(obj: Authenticator) -> str:
        return selectors.authenticator_name(obj)

    @staticmethod
    def resolve_passwordless(obj: Authenticator) -> bool | None:
        return selectors.authenticator_passwordless(obj)


class AuthenticatorPageOut(PageMeta):
    items: list[AuthenticatorOut]


class FactorAddedOut(Schema):
    authenticator: AuthenticatorOut
    recovery_codes: list[str] | None = Field(
        ..., description="With your first second factor: your recovery codes, shown this once. Else null."
    )


class TotpSetupOut(Schema):
    secret: str = Field(..., description="Base32 secret, for typing into an app that cannot scan.")
    otpauth_uri: str = Field(..., examples=["otpauth://totp/Custodian:ada%40example.com?secret=…"])
    qr_code: str = Field(..., description="The URI as a QR code: an SVG `data:` URI, usable as an <img> src.")
    digits: int
    period: int = Field(..., description="Seconds per code.")
    expires_at: datetime = Field(..., description="Confirm with a code before this, or start again.")


class TotpEnableIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "123456", "password": "correct-horse-battery"}]}
    )
    code: Annotated[str, StringConstraints(min_length=1, max_length=16)] = Field(
        ..., description="A code the app shows for the new secret."
    )
    password: ReauthPassword
    otp: ReauthOtp


class ReauthIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "correct-horse-battery", "otp": "123456"}, {}]}
    )
    password: ReauthPassword
    otp: ReauthOtp


class RecoveryCodesOut(Schema):
    recovery_codes: list[str] = Field(..., description="Shown this once; every older code stopped working.")


class WebauthnOptionsIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"passwordless": True}, {"passwordless": False}]}
    )
    passwordless: StrictBool = Field(
        False,
        description="A passkey (discoverable, verifies the user, logs in on its own) rather than a key.",
    )


class WebauthnOptionsOut(Schema):
    public_key: PublicKeyOptions
    expires_at: datetime


class WebauthnAddIn(Schema):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "YubiKey 5C",
                    "credential": {"id": "…", "rawId": "…", "type": "public-key", "response": {}},
                    "password": "correct-horse-battery",
                }
            ]
        }
    )
    name: KeyName
    credential: Credential
    password: ReauthPassword
    otp: ReauthOtp


class WebauthnRenameIn(Schema):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Laptop passkey"}]})
    name: KeyName
