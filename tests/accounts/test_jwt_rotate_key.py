"""manage.py jwt_rotate_key prints the environment values of an RS256 key rotation; deploying them keeps
every live token valid and signs new ones with the new key."""

from __future__ import annotations

import io
import re

import jwt
from django.core.management import call_command

from accounts import jwks
from tests.conftest import ApiClient
from tests.support.keys import rsa_pair, use_rs256

LINE = re.compile(r"^(JWT_[A-Z_]+)='([^']*)'$")


def rotate(*args: str) -> tuple[dict[str, str], str]:
    """The values the command prints, read back as config/settings.py reads the environment."""
    out = io.StringIO()
    call_command("jwt_rotate_key", *args, stdout=out)
    text = out.getvalue()
    values = {}
    for line in text.splitlines():
        assert line.startswith("#") or LINE.match(line), line
        if match := LINE.match(line):
            values[match[1]] = match[2].replace("\\n", "\n")
    return values, text


def test_rotation_values_keep_old_tokens_and_sign_new_ones_with_the_new_key(
    settings, user, login, api: ApiClient
) -> None:
    use_rs256(settings, rsa_pair("a"))
    old_kid = jwks.ring().current.kid
    old = login()
    values, text = rotate()
    assert set(values) == {"JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "JWT_PREVIOUS_PUBLIC_KEY"}
    assert values["JWT_PREVIOUS_PUBLIC_KEY"].strip() == rsa_pair("a").public_pem.strip()
    assert jwks.ring().current.kid == old_kid  # the command changes nothing itself

    for name, value in values.items():
        setattr(settings, name, value)
    new_kid = jwks.ring().current.kid
    assert new_kid != old_kid and f"kid {new_kid}" in text and f"kid {old_kid}" in text
    assert "14 days" in text
    assert api.call("get", "/me", token=old["access"]).status_code == 200
    r = api.post_json("/auth/token/refresh", {"refresh": old["refresh"]})
    assert r.status_code == 200, r.content
    assert jwt.get_unverified_header(r.json()["access"])["kid"] == new_kid

    # A second rotation drops the oldest key and says so.
    _, text = rotate()
    assert f"replaces the previous key, kid {old_kid}" in text


def test_from_hs256_it_says_how_to_keep_live_sessions(settings) -> None:
    values, text = rotate("--bits", "3072")
    assert set(values) == {"JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"}
    assert "JWT_PREVIOUS_SIGNING_KEY" in text
    settings.JWT_PRIVATE_KEY = values["JWT_PRIVATE_KEY"]
    assert jwks.ring().current.verifying_key.key_size == 3072
    assert settings.JWT_SIGNING_KEY not in text
