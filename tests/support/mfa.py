"""Helpers of the MFA tests: codes computed the way an authenticator app does (pyotp), enrollment and login
through the API, and a software WebAuthn authenticator bound to the configured origin."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from django.conf import settings

from tests.conftest import PASSWORD, ApiClient
from tests.support.webauthn import SoftAuthenticator


def totp_code(secret: str, *, at: float | None = None, steps: int = 0) -> str:
    """The code an app shows for `secret` now (or at `at`), `steps` periods later (negative: earlier)."""
    moment = (time.time() if at is None else at) + steps * settings.MFA_TOTP_PERIOD
    return str(
        pyotp.TOTP(secret, digits=settings.MFA_TOTP_DIGITS, interval=settings.MFA_TOTP_PERIOD).at(moment)
    )


def authenticator(**kw: Any) -> SoftAuthenticator:
    return SoftAuthenticator(settings.MFA_WEBAUTHN_ORIGINS[0], **kw)


def totp_enroll(api: ApiClient, access: str, *, password: str | None = PASSWORD) -> dict[str, Any]:
    """Set TOTP up through the API: {"secret", "recovery_codes", "authenticator"}."""
    setup = api.post_json("/me/mfa/totp", token=access)
    assert setup.status_code == 201, setup.content
    secret = setup.json()["secret"]
    body: dict[str, Any] = {"code": totp_code(secret)}
    if password:
        body["password"] = password
    done = api.post_json("/me/mfa/totp/confirm", body, token=access)
    assert done.status_code == 201, done.content
    return {"secret": secret, **done.json()}


def key_enroll(
    api: ApiClient,
    access: str,
    device: SoftAuthenticator,
    *,
    passwordless: bool = False,
    name: str = "YubiKey",
    **extra: Any,
) -> Any:
    options = api.post_json("/me/mfa/webauthn/options", {"passwordless": passwordless}, token=access)
    assert options.status_code == 200, options.content
    credential = device.create(options.json()["public_key"], discoverable=passwordless)
    return api.post_json(
        "/me/mfa/webauthn",
        {"name": name, "credential": credential, "password": PASSWORD, **extra},
        token=access,
    )


def mfa_token(api: ApiClient, login: str = "ada@example.com", password: str = PASSWORD) -> dict[str, Any]:
    r = api.post_json("/auth/token", {"login": login, "password": password})
    assert r.status_code == 202, r.content
    return r.json()


def mfa_login(api: ApiClient, secret: str, login: str = "ada@example.com", **kw: Any) -> dict[str, Any]:
    """Password, then a TOTP code `kw.get("steps", 0)` periods off; the token pair."""
    token = mfa_token(api, login)["mfa_token"]
    r = api.post_json("/auth/mfa/verify", {"mfa_token": token, "code": totp_code(secret, **kw)})
    assert r.status_code == 200, r.content
    return r.json()


class Clock:
    """Frozen time that moves in TOTP steps (time-machine), so a test knows which codes are fresh."""

    def __init__(self, traveller: Any) -> None:
        self.traveller = traveller
        period = settings.MFA_TOTP_PERIOD
        # A few seconds into a fresh step: nothing near a step boundary.
        self.traveller.move_to((int(time.time()) // period + 1) * period + 3, tick=False)

    def step(self, count: int = 1) -> None:
        self.traveller.shift(count * settings.MFA_TOTP_PERIOD)

    def shift(self, seconds: float) -> None:
        self.traveller.shift(seconds)
