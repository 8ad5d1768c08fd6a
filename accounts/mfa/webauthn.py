"""WebAuthn (security keys and passkeys) through fido2's server and allauth's helpers, without allauth's
Django-session state: `*_begin` returns the options for the browser and the state to keep (the caller stores
it in an MfaChallenge row); `*_complete` takes that state back.

Options are WebAuthn's JSON forms (`PublicKeyCredentialCreationOptionsJSON`,
`PublicKeyCredentialRequestOptionsJSON`): a browser reads them with
`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` and answers with
`credential.toJSON()`, which is what the `*_complete` functions accept.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.internal import auth as allauth_webauthn
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AttestedCredentialData,
    AuthenticationResponse,
    PublicKeyCredentialRpEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)


class WebauthnRefused(Exception):
    """The browser's answer does not verify (wrong challenge, origin, signature, or not WebAuthn at all)."""


@dataclass(frozen=True)
class Assertion:
    authenticator: Authenticator
    # The authenticator verified the user (PIN or biometric), not only their presence.
    user_verified: bool


def _server() -> Fido2Server:
    rp = PublicKeyCredentialRpEntity(**get_adapter().get_public_key_credential_rp_entity())
    origins = frozenset(settings.MFA_WEBAUTHN_ORIGINS)
    return Fido2Server(rp, verify_origin=lambda origin: origin in origins)


def _plain(value: Any) -> Any:
    # fido2's option objects and enums are JSON-shaped mappings and str enums; the state goes into a JSON column.
    return json.loads(json.dumps(value))


def credential_data(authenticators: Iterable[Authenticator]) -> list[AttestedCredentialData]:
    found = []
    for authenticator in authenticators:
        data = allauth_webauthn.WebAuthn(authenticator).authenticator_data.credential_data
        if data is not None:
            found.append(data)
    return found


def is_passwordless(credential: dict[str, Any]) -> bool:
    """Whether the browser reported a discoverable credential (credProps.rk), which is what a passkey is."""
    results = credential.get("clientExtensionResults")
    props = results.get("credProps") if isinstance(results, dict) else None
    return bool(props.get("rk")) if isinstance(props, dict) else False


def registration_begin(
    user: AbstractBaseUser, *, passwordless: bool, existing: Iterable[Authenticator]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(creation options, state). A passkey (passwordless) must be discoverable and verify the user; a
    security key used as a second factor need not. Keys the user has are excluded (no double registration)."""
    user_verification = (
        UserVerificationRequirement.REQUIRED
        if passwordless
        else UserVerificationRequirement(settings.MFA_WEBAUTHN_USER_VERIFICATION)
    )
    options, state = _server().register_begin(
        user=allauth_webauthn.build_user_payload(user),
        credentials=credential_data(existing),
        resident_key_requirement=(
            ResidentKeyRequirement.REQUIRED if passwordless else ResidentKeyRequirement.DISCOURAGED
        ),
        user_verification=user_verification,
        extensions=allauth_webauthn.EXTENSIONS,
    )
    return _plain(dict(options))["publicKey"], _plain(state)


def registration_complete(state: dict[str, Any], credential: dict[str, Any]) -> None:
    """Verify a registration answer against the state of its options; WebauthnRefused if it does not."""
    try:
        _server().register_complete(state, credential)
    except Exception as exc:
        # fido2 raises ValueError, TypeError, KeyError, cbor and base64 errors on malformed input; any of
        # them is a refused answer, never a server error.
        raise WebauthnRefused(str(exc)) from exc


def authentication_begin(
    authenticators: Iterable[Authenticator] | None, *, user_verification: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request options, state). Without authenticators the options allow any discoverable credential of
    this relying party (a passkey login, where the user is not known yet)."""
    options, state = _server().authenticate_begin(
        credentials=credential_data(authenticators) if authenticators is not None else None,
        user_verification=UserVerificationRequirement(user_verification),
    )
    return _plain(dict(options))["publicKey"], _plain(state)


def authentication_complete(
    state: dict[str, Any], authenticators: list[Authenticator], response: dict[str, Any]
) -> Assertion:
    """The authenticator among `authenticators` that signed the answer; WebauthnRefused if none did."""
    try:
        matched = _server().authenticate_complete(state, credential_data(authenticators), response)
        user_verified = AuthenticationResponse.from_dict(
            response
        ).response.authenticator_data.is_user_verified()
    except Exception as exc:
        raise WebauthnRefused(str(exc)) from exc
    for authenticator in authenticators:
        data = allauth_webauthn.WebAuthn(authenticator).authenticator_data.credential_data
        if data is not None and data.credential_id == matched.credential_id:
            return Assertion(authenticator=authenticator, user_verified=user_verified)
    raise WebauthnRefused("Unknown credential.")


def user_id_of(response: dict[str, Any]) -> uuid.UUID | None:
    """The user a passkey's answer names (its user handle), or None when it names none."""
    inner = response.get("response")
    handle = inner.get("userHandle") if isinstance(inner, dict) else None
    if not isinstance(handle, str) or not handle:
        return None
    try:
        return uuid.UUID(hex=websafe_decode(handle).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
