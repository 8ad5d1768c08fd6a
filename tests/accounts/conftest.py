from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.support.mfa import Clock, totp_enroll


@pytest.fixture
def clock(time_machine: Any) -> Clock:
    return Clock(time_machine)


@pytest.fixture
def mfa_user(api: ApiClient, user: Any, tokens: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """`user` with TOTP on (set up through the API one step ago, so the codes of now are fresh), its secret,
    recovery codes and the password-only session it enrolled from."""
    enrolled = totp_enroll(api, tokens["access"])
    clock.step()
    user.refresh_from_db()
    return {"user": user, "tokens": tokens, **enrolled}


@pytest.fixture
def generous_login_limit(settings: Any) -> None:
    """An MFA login is two requests on the per-IP login budget; these tests log in more often than it allows
    from one address in a minute (the limit has its own tests in test_ratelimit.py)."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "1000/min"}
