"""Another service, not Custodian: verifies Custodian's access tokens offline, as docs/integration.md says,
with PyJWT's PyJWKClient and nothing else (it imports nothing of Custodian, nor Django).

    python -I verifier.py ISSUER AUDIENCE < tokens

Finds the JWK set through ISSUER/.well-known/openid-configuration, then reads one token per line from stdin
and prints one JSON line per token: {"ok": true, "kid": ..., "claims": {...}} or {"ok": false, "error": ...}.
A last line lists the top-level modules loaded, so a test can check what this process imported.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

import jwt

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "sid", "jti", "token_type"]


def discover(issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=10) as response:
        config: dict[str, Any] = json.load(response)
    if config["issuer"] != issuer:
        raise SystemExit(f"discovery document names issuer {config['issuer']!r}, expected {issuer!r}")
    return config


def verify(client: jwt.PyJWKClient, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
    signing_key = client.get_signing_key_from_jwt(token)  # by the token's kid; refetches an unknown kid
    claims: dict[str, Any] = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],  # pinned here, never taken from the token
        audience=audience,
        issuer=issuer,
        options={"require": REQUIRED_CLAIMS},
    )
    if claims["token_type"] != "access":
        raise jwt.InvalidTokenError(f"not an access token: {claims['token_type']!r}")
    return claims


def main() -> None:
    issuer, audience = sys.argv[1], sys.argv[2]
    client = jwt.PyJWKClient(discover(issuer)["jwks_uri"])
    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        try:
            claims = verify(client, token, issuer=issuer, audience=audience)
            result = {"ok": True, "kid": jwt.get_unverified_header(token)["kid"], "claims": claims}
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
    print(json.dumps({"modules": sorted({name.partition(".")[0] for name in sys.modules})}))


if __name__ == "__main__":
    main()
