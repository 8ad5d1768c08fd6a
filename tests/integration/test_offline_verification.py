"""A separate process that does not import Custodian (tests/integration/verifier.py) verifies access tokens
of a real Custodian server through /.well-known/jwks.json with PyJWT's PyJWKClient, before and after a key
rotation done the documented way (manage.py jwt_rotate_key, then a restart with the printed values)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jwt

from tests.live.server import LiveServer
from tests.support.keys import rsa_pair

VERIFIER = Path(__file__).with_name("verifier.py")
EMAIL = "verifier-flow@example.com"
PASSWORD = "correct-horse-battery-9"
AUDIENCE = "custodian"
CUSTODIAN_PACKAGES = {"accounts", "audit", "config", "console", "gdpr", "tests", "django", "ninja"}
CREATE_USER = (
    "from django.utils import timezone; from accounts.models import User; "
    f"User.objects.create_user(email={EMAIL!r}, password={PASSWORD!r}, email_verified_at=timezone.now())"
)
ENV_LINE = re.compile(r"^(JWT_[A-Z_]+)='([^']*)'$")


def _call(server: LiveServer, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{server.url}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _login(server: LiveServer) -> dict[str, Any]:
    status, pair = _call(server, "POST", "/api/v1/auth/token", {"login": EMAIL, "password": PASSWORD})
    assert status == 200, pair
    return dict(pair)


def _verify(server: LiveServer, tokens: list[str], cwd: Path) -> list[dict[str, Any]]:
    # -I and a working directory outside the checkout: Custodian is not importable from this process.
    result = subprocess.run(
        [sys.executable, "-I", str(VERIFIER), server.url, AUDIENCE],
        input="\n".join(tokens),
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    *verdicts, modules = [json.loads(line) for line in result.stdout.splitlines()]
    assert not CUSTODIAN_PACKAGES & set(modules["modules"]), modules
    return verdicts


def _rotation_values(output: str) -> dict[str, str]:
    # Passed on as the environment, `\n` escapes and all, exactly as an operator would set them.
    return {m[1]: m[2] for line in output.splitlines() if (m := ENV_LINE.match(line))}


def test_a_separate_process_verifies_access_tokens_through_the_jwks_across_a_rotation(tmp_path: Path) -> None:
    old = rsa_pair("live-old")
    server = LiveServer(
        log_name="jwks-server",
        extra_env={"JWT_PRIVATE_KEY": old.private_pem, "JWT_PUBLIC_KEY": old.public_pem},
    )
    # The issuer is the server's public URL, so verifiers discover the JWK set from it.
    server.env["JWT_ISSUER"] = server.url
    with server:
        server.manage("shell", "-c", CREATE_USER)
        before = _login(server)
        old_kid = jwt.get_unverified_header(before["access"])["kid"]

        [verdict] = _verify(server, [before["access"]], tmp_path)
        assert verdict["ok"], verdict
        assert verdict["kid"] == old_kid
        assert verdict["claims"]["iss"] == server.url and verdict["claims"]["sid"] == before["session_id"]
        assert verdict["claims"]["token_type"] == "access"

        # Rotate: the command prints the new key pair and the current public key as the previous one.
        values = _rotation_values(server.manage("jwt_rotate_key"))
        assert set(values) == {"JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "JWT_PREVIOUS_PUBLIC_KEY"}
        server.stop()
        server.env.update(values)
        server.start()

        status, document = _call(server, "GET", "/.well-known/jwks.json")
        assert status == 200
        new_kid = document["keys"][0]["kid"]
        assert [key["kid"] for key in document["keys"]] == [new_kid, old_kid]

        after = _login(server)
        status, refreshed = _call(
            server, "POST", "/api/v1/auth/token/refresh", {"refresh": before["refresh"]}
        )
        assert status == 200, refreshed
        # Custodian itself still accepts the token signed before the rotation.
        assert _call(server, "GET", "/api/v1/me", token=before["access"])[0] == 200

        claims = jwt.decode(before["access"], options={"verify_signature": False})
        outsider = rsa_pair("live-outsider").private
        forged = {
            "unknown key": jwt.encode(claims, outsider, algorithm="RS256", headers={"kid": "not-custodian"}),
            "old kid, other key": jwt.encode(claims, outsider, algorithm="RS256", headers={"kid": old_kid}),
        }
        verdicts = _verify(
            server,
            [before["access"], after["access"], refreshed["access"], before["refresh"], *forged.values()],
            tmp_path,
        )
        old_token, new_token, refreshed_token, refresh_token, unknown_key, wrong_key = verdicts
        assert old_token["ok"] and old_token["kid"] == old_kid, old_token
        assert new_token["ok"] and new_token["kid"] == new_kid, new_token
        assert refreshed_token["ok"] and refreshed_token["kid"] == new_kid, refreshed_token
        assert refreshed_token["claims"]["sid"] == before["session_id"]
        assert not refresh_token["ok"] and "not an access token" in refresh_token["error"]
        assert not unknown_key["ok"] and unknown_key["error"].startswith("PyJWKClientError")
        assert not wrong_key["ok"] and wrong_key["error"].startswith("InvalidSignatureError")

        assert server.server_errors() == []
