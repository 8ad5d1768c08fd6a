"""Fake Google, GitHub and Facebook for social login tests, served at the HTTP level with `responses`.
(No tests here; the test_social*.py modules import these fixtures and helpers.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

GOOGLE_CLIENT_ID = "custodian-test.apps.googleusercontent.com"
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
GITHUB_CLIENT_ID = "gh-client-id"
GITHUB_SECRET = "gh-client-secret"
GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"
GITHUB_USER_URL = "https://api.github.com/user"
GITHUB_EMAILS_URL = "https://api.github.com/user/emails"
GITHUB_APP_TOKEN_URL = f"https://api.github.com/applications/{GITHUB_CLIENT_ID}/token"
FACEBOOK_APP_ID = "fb-app-id"
FACEBOOK_SECRET = "fb-app-secret"
GRAPH = "https://graph.facebook.com/v19.0"
KID = "test-key-1"


@lru_cache(maxsize=2)
def rsa_key(name: str = "google") -> rsa.RSAPrivateKey:
    """A throwaway RSA key per name (generated once per test run)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def google_jwks(kid: str = KID) -> dict[str, Any]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key().public_key()))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return {"keys": [jwk]}


def google_id_token(
    *,
    sub: str = "g-1001",
    email: str | None = "gina@example.com",
    email_verified: bool = True,
    aud: str = GOOGLE_CLIENT_ID,
    iss: str = "https://accounts.google.com",
    signing_key: rsa.RSAPrivateKey | None = None,
    kid: str = KID,
    expires_in: int = 600,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "azp": aud,
        "sub": sub,
        "iat": now,
        "exp": now + expires_in,
        "given_name": "Gina",
        "family_name": "Gauss",
        **claims,
    }
    if email is not None:
        payload.update(email=email, email_verified=email_verified)
    return jwt.encode(payload, signing_key or rsa_key(), algorithm="RS256", headers={"kid": kid})


def github_app_token(
    rsps: responses.RequestsMock,
    *,
    token: str = "gho_valid",
    client_id: str = GITHUB_CLIENT_ID,
    status: int = 200,
    uid: int = 4242,
) -> None:
    """GitHub's application-token check (POST /applications/{our client id}/token with our client id and
    secret as basic auth) answering for `token`: 200 naming the app `client_id` that owns it, or `status`."""
    basic = base64.b64encode(f"{GITHUB_CLIENT_ID}:{GITHUB_SECRET}".encode()).decode()
    match = [
        responses.matchers.header_matcher({"Authorization": f"Basic {basic}"}),
        responses.matchers.json_params_matcher({"access_token": token}),
    ]
    if status != 200:
        rsps.post(GITHUB_APP_TOKEN_URL, status=status, json={"message": "Not Found"}, match=match)
        return
    body = {
        "id": 1,
        "token": token,
        "app": {"client_id": client_id, "name": "an app", "url": "https://example.com"},
        "user": {"id": uid, "login": "octo"},
        "scopes": ["user:email"],
    }
    rsps.post(GITHUB_APP_TOKEN_URL, json=body, match=match)


def github_user(
    rsps: responses.RequestsMock,
    *,
    uid: int = 4242,
    login: str = "octo",
    email: str | None = None,
    emails: list[dict[str, Any]] | None = None,
    token: str = "gho_valid",
    app_check: bool = True,
) -> None:
    """/user and /user/emails answering only to `Authorization: token <token>`, and (unless `app_check` is
    False) the application-token check calling the token ours."""
    if app_check:
        github_app_token(rsps, token=token, uid=uid)
    auth = responses.matchers.header_matcher({"Authorization": f"token {token}"})
    rsps.get(
        GITHUB_USER_URL,
        json={"id": uid, "login": login, "name": "Octo Cat", "email": email},
        match=[auth],
    )
    if emails is None:
        emails = [{"email": "octo@example.com", "primary": True, "verified": True, "visibility": "private"}]
    rsps.get(GITHUB_EMAILS_URL, json=emails, match=[auth])


def facebook_user(
    rsps: responses.RequestsMock,
    *,
    token: str = "fb-user-token",
    uid: str = "fb-777",
    email: str | None = "fiona@example.com",
    valid: bool = True,
    app_id: str = FACEBOOK_APP_ID,
) -> None:
    """App token (client_credentials), debug_token, and /me that insists on the right appsecret_proof."""
    rsps.get(f"{GRAPH}/oauth/access_token", json={"access_token": "fb-app-token", "token_type": "bearer"})
    rsps.get(
        f"{GRAPH}/debug_token",
        json={"data": {"app_id": app_id, "is_valid": valid, "user_id": uid}},
        match=[
            responses.matchers.query_param_matcher(
                {"input_token": token, "access_token": "fb-app-token"}, strict_match=False
            )
        ],
    )
    proof = hmac.new(FACEBOOK_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    body: dict[str, Any] = {"id": uid, "name": "Fiona Fisher", "first_name": "Fiona", "last_name": "Fisher"}
    if email:
        body["email"] = email
    rsps.get(
        f"{GRAPH}/me",
        json=body,
        match=[
            responses.matchers.query_param_matcher(
                {"access_token": token, "appsecret_proof": proof}, strict_match=False
            )
        ],
    )


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(call.request.url).query)


@pytest.fixture
def social_apps(settings: Any) -> None:
    """All three providers configured the way config/settings.py builds them from the environment."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "google": {"APP": {"client_id": GOOGLE_CLIENT_ID, "secret": ""}},
        "github": {"APP": {"client_id": GITHUB_CLIENT_ID, "secret": GITHUB_SECRET}},
        "facebook": {
            "APP": {"client_id": FACEBOOK_APP_ID, "secret": FACEBOOK_SECRET},
            "VERIFIED_EMAIL": False,
        },
    }
    settings.SOCIAL_GOOGLE_JWKS_URL = GOOGLE_JWKS_URL
    settings.SOCIALACCOUNT_REQUESTS_TIMEOUT = 3.5


@pytest.fixture
def rsps(social_apps: None) -> Iterator[responses.RequestsMock]:
    """Every outbound HTTP call is answered here; an unregistered URL fails like a refused connection."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def google(rsps: responses.RequestsMock) -> responses.RequestsMock:
    rsps.get(GOOGLE_JWKS_URL, json=google_jwks())
    return rsps
