"""Signing keys with a kid (accounts/jwks.py, accounts/tokens.py): RFC 7638 thumbprints, the key ring read
from settings, RS256 tokens that carry their kid and verify by it, rotation with a previous key, tokens
without kid from before kids existed, and the refusals (unknown kid, wrong key, algorithm confusion)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts import checks, jwks, tokens
from tests.conftest import ApiClient, assert_error
from tests.support.keys import rsa_pair, use_rs256

A, B, C = "a", "b", "c"


def _int(b64: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _published_key(token: str) -> Any:
    """The key the JWK set publishes under the token's kid (what an offline verifier does)."""
    document = json.loads(jwks.jwks_document() or b"")
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in document["keys"] if k["kid"] == kid]
    return jwt.PyJWK(jwk).key


# --- keys and kids --------------------------------------------------------------------------------------


def test_thumbprint_is_rfc_7638() -> None:
    # RFC 7638 §3.1, the worked example.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
        "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8K"
        "JZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xB"
        "niIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwks.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rsa_key_kid_is_the_thumbprint_of_its_public_jwk(settings) -> None:
    use_rs256(settings, rsa_pair(A), previous=rsa_pair(B))
    ring = jwks.ring()
    current, [previous] = ring.current, ring.previous
    numbers = rsa_pair(A).private.public_key().public_numbers()
    assert current.jwk == {
        "kty": "RSA",
        "kid": current.kid,
        "use": "sig",
        "alg": "RS256",
        "n": current.jwk["n"],
        "e": "AQAB",
    }
    assert _int(current.jwk["n"]) == numbers.n and _int(current.jwk["e"]) == numbers.e
    assert current.kid == jwks.thumbprint(current.jwk) and len(current.kid) == 43
    assert previous.kid == jwks.thumbprint(previous.jwk) != current.kid
    assert previous.signing_key is None and previous.algorithm == "RS256"
    # Deterministic: the same key gives the same kid in every process and after every restart.
    assert jwks.ring_build().current.kid == current.kid
    document = json.loads(ring.jwks or b"")
    assert [k["kid"] for k in document["keys"]] == [current.kid, previous.kid]


def test_public_key_is_derived_from_the_private_key_and_must_match_it(settings) -> None:
    settings.JWT_PRIVATE_KEY = rsa_pair(A).private_pem
    settings.JWT_PUBLIC_KEY = ""
    derived = jwks.ring_build().current.kid
    settings.JWT_PUBLIC_KEY = rsa_pair(A).public_pem
    assert jwks.ring_build().current.kid == derived
    settings.JWT_PUBLIC_KEY = rsa_pair(B).public_pem
    with pytest.raises(ImproperlyConfigured, match="JWT_PUBLIC_KEY is not the public half"):
        jwks.ring_build()


def test_hs256_key_has_a_kid_that_reveals_nothing_and_no_jwk_set(settings) -> None:
    ring = jwks.ring()
    assert ring.current.algorithm == "HS256" and ring.jwks is None
    assert ring.current.kid.startswith("hs-") and settings.JWT_SIGNING_KEY not in ring.current.kid
    settings.JWT_SIGNING_KEY = "another-secret-" * 4
    assert jwks.ring().current.kid != ring.current.kid


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"JWT_PRIVATE_KEY": "not a key"}, "accounts.E002"),
        ({"JWT_PRIVATE_KEY": "small"}, "accounts.E002"),
        ({"JWT_PRIVATE_KEY": "a", "JWT_PUBLIC_KEY": "b"}, "accounts.E002"),
        (
            {"JWT_PRIVATE_KEY": "a", "JWT_PREVIOUS_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nx\n"},
            "accounts.E002",
        ),
        ({"NINJA_JWT": {"ISSUER": "ftp://id.example.com"}}, "accounts.E003"),
        ({"NINJA_JWT": {"ISSUER": "https://id.example.com/?tenant=1"}}, "accounts.E003"),
        ({"JWT_PUBLIC_KEY": "a"}, "accounts.W001"),
    ],
)
def test_system_check_names_the_wrong_jwt_setting(settings, changes: dict[str, Any], problem: str) -> None:
    assert checks.jwt_settings() == []
    for name, value in changes.items():
        if name == "NINJA_JWT":
            value = {**settings.NINJA_JWT, **value}
        elif value in (A, B):
            value = rsa_pair(value).private_pem if name == "JWT_PRIVATE_KEY" else rsa_pair(value).public_pem
        elif value == "small":
            value = rsa_pair("small", bits=1024).private_pem
        setattr(settings, name, value)
    assert [message.id for message in checks.jwt_settings()] == [problem]


@pytest.mark.parametrize("issuer", ["custodian", "https://id.example.com", "https://example.com/accounts/"])
def test_issuers_that_pass_the_check(settings, issuer: str) -> None:
    settings.NINJA_JWT = {**settings.NINJA_JWT, "ISSUER": issuer}
    assert checks.jwt_settings() == []


def test_keys_are_parsed_once_per_process_not_per_request(
    settings, monkeypatch: pytest.MonkeyPatch, user, login, api: ApiClient
) -> None:
    use_rs256(settings, rsa_pair(A), previous=rsa_pair(B))
    pair = login()  # the first signature parses the keys

    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a PEM was parsed during a request")

    from cryptography.hazmat.primitives import serialization

    monkeypatch.setattr(serialization, "load_pem_private_key", no_parsing)
    monkeypatch.setattr(serialization, "load_pem_public_key", no_parsing)
    assert api.call("get", "/me", token=pair["access"]).status_code == 200
    assert api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}).status_code == 200
    assert jwks.ring() is jwks.ring() and tokens.token_backend() is tokens.token_backend()


# --- tokens ---------------------------------------------------------------------------------------------


def test_rs256_token_pair_carries_the_kid_and_verifies_with_the_published_key(
    settings, make_user, login, api: ApiClient
) -> None:
    use_rs256(settings, rsa_pair(A))
    user = make_user()
    pair = login()
    kid = jwks.ring().current.kid
    for token in (pair["access"], pair["refresh"]):
        assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": kid, "typ": "JWT"}
        # The precomputed header segment matches what PyJWT writes: decoding skips the header parse.
        assert token.partition(".")[0] == jwks.ring().current.header_segment
    claims = jwt.decode(
        pair["access"],
        _published_key(pair["access"]),
        algorithms=["RS256"],
        audience="custodian",
        issuer="custodian",
    )
    assert claims["sub"] == str(user.pk) and claims["sid"] == pair["session_id"]
    assert claims["token_type"] == "access"
    assert api.call("get", "/me", token=pair["access"]).status_code == 200
    assert api.post_json("/auth/token/verify", {"token": pair["access"]}).status_code == 200
    refreshed = api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]})
    assert refreshed.status_code == 200, refreshed.content
    assert jwt.get_unverified_header(refreshed.json()["access"])["kid"] == kid


def test_hs256_tokens_carry_their_kid_too(tokens: dict[str, Any]) -> None:
    for token in (tokens["access"], tokens["refresh"]):
        assert jwt.get_unverified_header(token) == {
            "alg": "HS256",
            "kid": jwks.ring().current.kid,
            "typ": "JWT",
        }


def test_rotation_keeps_tokens_of_the_previous_key_valid(settings, make_user, login, api: ApiClient) -> None:
    use_rs256(settings, rsa_pair(A))
    make_user()
    old = login()
    old_kid = jwks.ring().current.kid
    use_rs256(settings, rsa_pair(B), previous=rsa_pair(A))
    new_kid = jwks.ring().current.kid
    assert new_kid != old_kid

    assert api.call("get", "/me", token=old["access"]).status_code == 200
    assert api.post_json("/auth/token/verify", {"token": old["access"]}).status_code == 200
    r = api.post_json("/auth/token/refresh", {"refresh": old["refresh"]})
    assert r.status_code == 200, r.content
    for token in (r.json()["access"], r.json()["refresh"], login()["access"]):
        assert jwt.get_unverified_header(token)["kid"] == new_kid
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, rsa_pair(A).private.public_key(), algorithms=["RS256"], audience="custodian")
    # Both verify offline through the JWK set.
    for token in (old["access"], r.json()["access"]):
        jwt.decode(token, _published_key(token), algorithms=["RS256"], audience="custodian")

    # Once the previous key is removed, what it signed is refused.
    use_rs256(settings, rsa_pair(B))
    assert_error(api.call("get", "/me", token=old["access"]), 401, "token_invalid")


def test_a_new_key_can_be_published_before_it_signs(settings, make_user, login, api: ApiClient) -> None:
    """The rolling-deploy rotation: the new public key first goes out as the previous key, so processes still
    on the old configuration (and verifiers) know it before any token is signed with it."""
    make_user()
    use_rs256(settings, rsa_pair(A), previous=rsa_pair(B))
    old = login()
    assert [k["kid"] for k in json.loads(jwks.ring().jwks or b"")["keys"]] == [
        jwks.ring().current.kid,
        jwks.ring().previous[0].kid,
    ]
    use_rs256(settings, rsa_pair(B), previous=rsa_pair(A))
    new = login()
    for current in (A, B):  # a process on either configuration accepts both tokens
        use_rs256(settings, rsa_pair(current), previous=rsa_pair(B if current == A else A))
        for pair in (old, new):
            assert api.call("get", "/me", token=pair["access"]).status_code == 200


def _resigned(token: str, key: Any, algorithm: str = "RS256", **header: Any) -> str:
    return jwt.encode(_claims(token), key, algorithm=algorithm, headers=header or None)


def test_tokens_without_kid_from_before_kids_still_verify_with_a_configured_key(
    settings, tokens: dict[str, Any], api: ApiClient
) -> None:
    use_rs256(settings, rsa_pair(A))
    legacy = _resigned(tokens["access"], rsa_pair(A).private)
    assert "kid" not in jwt.get_unverified_header(legacy)
    assert api.call("get", "/me", token=legacy).status_code == 200
    use_rs256(settings, rsa_pair(B), previous=rsa_pair(A))
    assert api.call("get", "/me", token=legacy).status_code == 200
    stranger = _resigned(tokens["access"], rsa_pair(C).private)
    assert_error(api.call("get", "/me", token=stranger), 401, "token_invalid")


def test_the_kid_binds_the_key(settings, tokens: dict[str, Any], api: ApiClient) -> None:
    use_rs256(settings, rsa_pair(B), previous=rsa_pair(A))
    ring = jwks.ring()
    [previous] = ring.previous
    forged = {
        "unknown kid": _resigned(tokens["access"], rsa_pair(B).private, kid="no-such-key"),
        "kid of the previous key, signed by another": _resigned(
            tokens["access"], rsa_pair(C).private, kid=previous.kid
        ),
        "kid of the previous key, signed by the current": _resigned(
            tokens["access"], rsa_pair(B).private, kid=previous.kid
        ),
    }
    for name, token in forged.items():
        r = api.call("get", "/me", token=token)
        assert r.status_code == 401, name
        assert_error(r, 401, "token_invalid")


def test_algorithm_is_pinned_by_the_key_never_by_the_header(
    settings, tokens: dict[str, Any], api: ApiClient
) -> None:
    use_rs256(settings, rsa_pair(A))
    kid = jwks.ring().current.kid
    claims = _claims(tokens["access"])
    public_pem = rsa_pair(A).public_pem.encode()
    body = _b64(json.dumps(claims).encode())
    # HMAC keyed with the public key (the classic confusion); PyJWT refuses PEM HMAC keys, so sign by hand.
    signing_input = _b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode()) + "." + body
    confused = (
        signing_input + "." + _b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    )
    unsigned = _b64(json.dumps({"alg": "none", "kid": kid}).encode()) + "." + body + "."
    for token in (confused, unsigned):
        assert_error(api.call("get", "/me", token=token), 401, "token_invalid")


def test_moving_from_hs256_to_rs256_keeps_live_sessions(
    settings, tokens: dict[str, Any], api: ApiClient
) -> None:
    settings.JWT_PREVIOUS_SIGNING_KEY = settings.JWT_SIGNING_KEY
    use_rs256(settings, rsa_pair(A))
    assert [k.algorithm for k in jwks.ring().previous] == ["HS256"]
    assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    r = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert r.status_code == 200, r.content
    assert jwt.get_unverified_header(r.json()["access"])["alg"] == "RS256"
    # The JWK set has only the RSA key: the secret is never published.
    assert [k["kid"] for k in json.loads(jwks.ring().jwks or b"")["keys"]] == [jwks.ring().current.kid]
    settings.JWT_PREVIOUS_SIGNING_KEY = ""
    assert_error(api.call("get", "/me", token=tokens["access"]), 401, "token_invalid")
