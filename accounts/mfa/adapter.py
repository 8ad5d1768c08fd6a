"""The allauth MFA adapter (settings.MFA_ADAPTER): secrets encrypted at rest, and the TOTP issuer and the
WebAuthn relying party from settings rather than from the request's Host."""

from __future__ import annotations

import base64
from typing import Any

from allauth.mfa.adapter import DefaultMFAAdapter
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.crypto import salted_hmac

_KEY_SALT = "accounts.mfa.secret-encryption"


def _fernet() -> MultiFernet:
    # SECRET_KEY encrypts; SECRET_KEY_FALLBACKS still decrypt, so the key can be rotated the way Django
    # rotates it for everything else.
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(salted_hmac(_KEY_SALT, "", secret=key, algorithm="sha256").digest())
            )
            for key in keys
        ]
    )


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with SECRET_KEY or any of SECRET_KEY_FALLBACKS."""


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        try:
            return _fernet().decrypt(encrypted_text.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "An MFA secret does not decrypt: was SECRET_KEY changed without keeping the old one in "
                "SECRET_KEY_FALLBACKS?"
            )

    def get_totp_issuer(self) -> str:
        return str(settings.MFA_TOTP_ISSUER)

    def _get_site_name(self) -> str:
        return str(settings.MFA_WEBAUTHN_RP_NAME)

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        return {"id": settings.MFA_WEBAUTHN_RP_ID, "name": settings.MFA_WEBAUTHN_RP_NAME}

    def get_public_key_credential_user_entity(self, user: AbstractBaseUser) -> dict[str, Any]:
        # The user handle is the id's hex (what allauth's user_pk_to_url_str gives a UUID key); passkey logins
        # read the user back from it.
        email = str(getattr(user, "email", ""))
        full_name = str(user.get_full_name()) if hasattr(user, "get_full_name") else ""
        return {"id": user.pk.hex.encode(), "name": email, "display_name": full_name or email}
