"""/.well-known/jwks.json and /.well-known/openid-configuration (config/wellknown.py): the public keys as
JWKs, the discovery document, caching headers, and the 404 in the error schema under HS256."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from django.test import Client

from accounts import jwks
from tests.conftest import assert_error
from tests.support.keys import rsa_pair, use_rs256

JWKS_URL = "/.well-known/jwks.json"
DISCOVERY_URL = "/.well-known/openid-configuration"


@pytest.fixture
def client() -> Client:
    return Client()


def test_jwks_lists_current_then_previous_key_as_cacheable_json(settings, client: Client) -> None:
    use_rs256(settings, rsa_pair("b"), previous=rsa_pair("a"))
    r = client.get(JWKS_URL)
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    assert r["Cache-Control"] == "public, max-age=300" and r["Access-Control-Allow-Origin"] == "*"
    keys = r.json()["keys"]
    ring = jwks.ring()
    assert [k["kid"] for k in keys] == [ring.current.kid, ring.previous[0].kid]
    for key in keys:
        assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert key["kid"] == jwks.thumbprint(key)
    # Each is a usable public key, and never the private half.
    assert jwt.PyJWK(keys[0]).key.public_numbers() == rsa_pair("b").private.public_key().public_numbers()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])

    settings.JWKS_MAX_AGE_SECONDS = 60
    assert client.get(JWKS_URL)["Cache-Control"] == "public, max-age=60"


def test_jwks_without_a_previous_key_lists_one(settings, client: Client) -> None:
    use_rs256(settings, rsa_pair("a"))
    assert [k["kid"] for k in client.get(JWKS_URL).json()["keys"]] == [jwks.ring().current.kid]


@pytest.mark.parametrize("url", [JWKS_URL, DISCOVERY_URL])
def test_under_hs256_there_is_nothing_to_verify_with_and_the_404_says_why(client: Client, url: str) -> None:
    r = client.get(url)
    body = assert_error(r, 404, "jwks_unavailable")
    assert "HS256" in body["message"] and "offline" in body["message"]
    assert body["details"] == {"algorithm": "HS256"}
    assert r["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", [JWKS_URL, DISCOVERY_URL])
def test_other_methods_get_405_in_the_error_schema(settings, client: Client, url: str) -> None:
    use_rs256(settings, rsa_pair("a"))
    r = client.post(url, data="{}", content_type="application/json")
    assert_error(r, 405, "method_not_allowed")
    assert r["Allow"] == "GET, HEAD"
    assert client.head(url).status_code == 200


@pytest.mark.parametrize(
    ("issuer", "jwks_uri"),
    [
        ("https://id.example.com", "https://id.example.com/.well-known/jwks.json"),
        ("https://example.com/accounts/", "https://example.com/accounts/.well-known/jwks.json"),
        # A plain-name issuer (the default): the URL this request reached.
        ("custodian", "http://testserver/.well-known/jwks.json"),
    ],
)
def test_discovery_names_the_issuer_and_the_jwks_uri(
    settings, client: Client, issuer: str, jwks_uri: str
) -> None:
    use_rs256(settings, rsa_pair("a"))
    settings.NINJA_JWT = {**settings.NINJA_JWT, "ISSUER": issuer}
    r = client.get(DISCOVERY_URL)
    assert r.status_code == 200 and r["Cache-Control"] == "public, max-age=300"
    assert r.json() == {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def test_tokens_carry_the_issuer_the_discovery_document_names(settings, client: Client, user, login) -> None:
    use_rs256(settings, rsa_pair("a"))
    settings.NINJA_JWT = {**settings.NINJA_JWT, "ISSUER": "https://id.example.com"}
    discovery: dict[str, Any] = client.get(DISCOVERY_URL).json()
    access = login()["access"]
    [key] = json.loads(client.get(JWKS_URL).content)["keys"]
    claims = jwt.decode(
        access, jwt.PyJWK(key).key, algorithms=["RS256"], audience="custodian", issuer=discovery["issuer"]
    )
    assert claims["iss"] == "https://id.example.com"


def test_the_well_known_documents_are_not_part_of_the_api_schema(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [path for path in paths if "well-known" in path]
