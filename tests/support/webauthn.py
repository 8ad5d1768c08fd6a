"""A software WebAuthn authenticator built from fido2's own data classes and an EC P-256 key.

It answers the options the API hands out the way a browser does (`navigator.credentials.create/get`
followed by `credential.toJSON()`), with a "none" attestation; a test can make it lie (another origin, no
user verification, a foreign challenge) to see the server refuse.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

FLAG = AuthenticatorData.FLAG


class SoftAuthenticator:
    def __init__(self, origin: str, *, user_verification: bool = True) -> None:
        self.origin = origin
        self.user_verification = user_verification
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.rp_id = ""
        self.user_handle: str | None = None

    @property
    def id(self) -> str:
        return websafe_encode(self.credential_id)

    def _flags(self, *extra: int) -> int:
        flags = FLAG.UP
        if self.user_verification:
            flags |= FLAG.UV
        for flag in extra:
            flags |= flag
        return int(flags)

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, discoverable: bool = False
    ) -> dict[str, Any]:
        """Answer creation options (PublicKeyCredentialCreationOptionsJSON) as RegistrationResponseJSON."""
        self.rp_id = options["rp"]["id"]
        self.user_handle = options["user"]["id"]
        excluded = {d["id"] for d in options.get("excludeCredentials") or []}
        assert self.id not in excluded, "this authenticator is already registered"
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.CREATE, challenge=options["challenge"], origin=origin or self.origin
        )
        attested = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256(self.rp_id.encode()).digest(), self._flags(FLAG.AT), self.counter, attested
        )
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "response": {
                "clientDataJSON": client_data.b64,
                "attestationObject": websafe_encode(attestation),
                "transports": ["usb"],
            },
            "clientExtensionResults": {"credProps": {"rk": discoverable}},
        }

    def get(
        self, options: dict[str, Any], *, origin: str | None = None, challenge: str | None = None
    ) -> dict[str, Any]:
        """Answer request options (PublicKeyCredentialRequestOptionsJSON) as AuthenticationResponseJSON."""
        allowed = {d["id"] for d in options.get("allowCredentials") or []}
        assert not allowed or self.id in allowed, "the options do not allow this authenticator"
        rp_id = options.get("rpId") or self.rp_id
        self.counter += 1
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.GET,
            challenge=challenge or options["challenge"],
            origin=origin or self.origin,
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256(rp_id.encode()).digest(), self._flags(), self.counter
        )
        signature = self.key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "cross-platform",
            "response": {
                "clientDataJSON": client_data.b64,
                "authenticatorData": websafe_encode(auth_data),
                "signature": websafe_encode(signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
        }


def user_handle_bytes(handle: str) -> bytes:
    return websafe_decode(handle)
