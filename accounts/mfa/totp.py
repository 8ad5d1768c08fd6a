"""TOTP (RFC 6238) through allauth's primitives: the secret, the otpauth:// URI, the QR code, the code of a
time step. allauth's own check (`validate_totp_code`) answers only yes or no; the replay rule needs the time
step a code belongs to, so `step_of` walks the same window allauth does (MFA_TOTP_TOLERANCE steps either
side) and says which step matched."""

from __future__ import annotations

import base64

from allauth.core.internal.cryptokit import compare_user_code
from allauth.mfa.adapter import get_adapter
from allauth.mfa.totp.internal import auth as allauth_totp
from django.contrib.auth.base_user import AbstractBaseUser


def secret_new() -> str:
    return allauth_totp.generate_totp_secret()


def otpauth_uri(user: AbstractBaseUser, secret: str) -> str:
    return get_adapter().build_totp_url(user, secret)


def qr_code_data_uri(uri: str) -> str:
    svg = get_adapter().build_totp_svg(uri)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def step_of(secret: str, code: str) -> int | None:
    """The time step (counter) within the accepted window whose code `code` is, or None."""
    for counter in allauth_totp.yield_hotp_counters_from_time():
        expected = allauth_totp.format_hotp_value(allauth_totp.hotp_value(secret, counter))
        if compare_user_code(actual=code, expected=expected):
            return counter
    return None
