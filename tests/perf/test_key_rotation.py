"""JWT signing key rotation with a grace key (docs/deployment.md, "Key rotation"): after the switch, tokens
signed with the previous key keep working until it is removed; new tokens are signed with the new key only."""

from __future__ import annotations

from typing import Any

import jwt as pyjwt
import pytest
from django.conf import settings as django_settings

from tests.conftest import ApiClient, assert_error

NEW_KEY = "n" * 64


@pytest.fixture
def rotated(tokens: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Tokens issued before the switch; then the deployment restarts with the new key and the old one as
    JWT_PREVIOUS_SIGNING_KEY."""
    old_key = django_settings.JWT_SIGNING_KEY
    settings.JWT_SIGNING_KEY = NEW_KEY
    settings.JWT_PREVIOUS_SIGNING_KEY = old_key
    return {**tokens, "old_key": old_key}


def _signed_with(token: str, key: str) -> bool:
    try:
        pyjwt.decode(token, key, algorithms=["HS256"], audience="custodian")
    except pyjwt.InvalidSignatureError:
        return False
    return True


def test_old_tokens_work_during_the_grace_and_new_ones_use_the_new_key(api: ApiClient, rotated) -> None:
    assert api.call("get", "/me", token=rotated["access"]).status_code == 200
    r = api.post_json("/auth/token/refresh", {"refresh": rotated["refresh"]})
    assert r.status_code == 200, r.content
    pair = r.json()
    for token in (pair["access"], pair["refresh"]):
        assert _signed_with(token, NEW_KEY) and not _signed_with(token, rotated["old_key"])
    assert api.call("get", "/me", token=pair["access"]).status_code == 200
    assert api.post_json("/auth/token/verify", {"token": rotated["access"]}).status_code == 200


def test_without_the_grace_key_old_tokens_are_refused(api: ApiClient, rotated, settings) -> None:
    settings.JWT_PREVIOUS_SIGNING_KEY = ""
    assert_error(api.call("get", "/me", token=rotated["access"]), 401, "token_invalid")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": rotated["refresh"]}), 401, "token_invalid")


def test_a_token_signed_with_any_other_key_is_refused(api: ApiClient, rotated) -> None:
    claims = pyjwt.decode(rotated["access"], options={"verify_signature": False})
    forged = pyjwt.encode(claims, "f" * 64, algorithm="HS256")
    assert_error(api.call("get", "/me", token=forged), 401, "token_invalid")


def test_the_grace_key_does_not_revive_revoked_sessions(api: ApiClient, rotated) -> None:
    api.call("post", "/auth/logout", token=rotated["access"])
    assert_error(api.call("get", "/me", token=rotated["access"]), 401, "session_revoked")
