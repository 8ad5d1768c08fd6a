"""The outbound side of social login: check a client's provider credentials with django-allauth's provider
classes and adapters and turn the answer into a verified `Identity`, or into a domain error.

Reads only (no database writes). allauth's own `verify_token` helpers turn every transport failure into
"invalid token"; we call one level below them so that a provider outage (5xx, timeout, refused connection)
becomes 502 `provider_unavailable` while a rejected token stays 400 `invalid_provider_token`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from allauth.core import context as allauth_context
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.base import Provider
from allauth.socialaccount.providers.facebook import flows as facebook_flows
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from accounts import errors

logger = logging.getLogger(__name__)

PROVIDERS = ("google", "github", "facebook")


@dataclass(frozen=True)
class Credentials:
    id_token: str | None = None
    access_token: str | None = None
    code: str | None = None
    redirect_uri: str | None = None


@dataclass(frozen=True)
class Identity:
    """A provider account whose credentials the provider itself has just confirmed."""

    provider: str
    uid: str
    email: str | None
    email_verified: bool
    first_name: str = ""
    last_name: str = ""
    extra_data: dict[str, Any] = field(default_factory=dict)


def identity_verify(*, provider: str, credentials: Credentials) -> Identity:
    """404 unknown_provider, 422 for missing credentials, 400 invalid_provider_token, 502 provider_unavailable."""
    allauth_provider = _provider(provider)
    verify = _VERIFIERS[provider]
    with _provider_errors(provider):
        login = verify(allauth_provider, credentials)
    return _identity(provider, login)


def _provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise errors.UnknownProvider()
    try:
        return get_adapter().get_provider(allauth_context.request, name)
    except SocialApp.DoesNotExist:
        # Known to allauth but no client id configured: not enabled here.
        raise errors.UnknownProvider()


def _required(**fields: str | None) -> None:
    missing = {
        name: [gettext("This field is required for this provider.")]
        for name, value in fields.items()
        if not value
    }
    if missing:
        raise errors.ValidationFailed(missing)


@contextmanager
def _provider_errors(provider: str) -> Iterator[None]:
    try:
        yield
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500 or status == 429:
            logger.warning("social provider %s answered %s", provider, status)
            raise errors.ProviderUnavailable()
        raise errors.InvalidProviderToken()
    except requests.RequestException as exc:
        # Timeouts, refused connections and bodies that are not JSON.
        logger.warning("social provider %s unreachable: %s", provider, type(exc).__name__)
        raise errors.ProviderUnavailable()
    except (OAuth2Error, ValidationError, jwt.PyJWTError):
        raise errors.InvalidProviderToken()
    except (KeyError, TypeError, AttributeError) as exc:
        logger.warning("social provider %s answered in an unexpected shape: %r", provider, exc)
        raise errors.ProviderUnavailable()


def _identity(provider: str, login: SocialLogin) -> Identity:
    user = login.user
    email = (getattr(user, "email", "") or "").strip() or None
    verified = bool(email) and any(
        a.verified and (a.email or "").lower() == (email or "").lower() for a in login.email_addresses
    )
    return Identity(
        provider=provider,
        uid=login.account.uid,
        email=email,
        email_verified=verified,
        first_name=(getattr(user, "first_name", "") or "")[:150],
        last_name=(getattr(user, "last_name", "") or "")[:150],
        extra_data=dict(login.account.extra_data or {}),
    )


# --- Google: an OpenID Connect id_token checked against Google's published keys ------------------------


def _google(provider: Provider, credentials: Credentials) -> SocialLogin:
    _required(id_token=credentials.id_token)
    token = credentials.id_token or ""
    kid = jwt.get_unverified_header(token).get("kid")
    jwk = _google_key(kid, refresh=False) or _google_key(kid, refresh=True)
    if jwk is None:
        raise OAuth2Error("unknown signing key")
    claims = jwt.decode(
        token,
        key=jwt.PyJWK(jwk, algorithm="RS256").key,
        algorithms=["RS256"],  # pinned: never the algorithm the token's header asks for
        audience=provider.app.client_id,
        issuer=settings.SOCIAL_GOOGLE_ISSUERS,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return provider.sociallogin_from_response(allauth_context.request, claims)


def _google_key(kid: Any, *, refresh: bool) -> dict[str, Any] | None:
    """The JWK with this key id. Google rotates its keys, so an unknown kid refetches the set once."""
    url = settings.SOCIAL_GOOGLE_JWKS_URL
    cache_key = f"accounts.social.jwks:{url}"
    keys = None if refresh else _cache_get(cache_key)
    if keys is None:
        with get_adapter().get_requests_session() as session:
            response = session.get(url)
            response.raise_for_status()
            keys = response.json()["keys"]
        _cache_set(cache_key, keys, settings.SOCIAL_JWKS_CACHE_SECONDS)
    for key in keys:
        if isinstance(key, dict) and kid is not None and key.get("kid") == kid:
            return key
    return None


def _cache_get(key: str) -> Any:
    # A cache outage must not stop social login: the keys are simply fetched again.
    try:
        return cache.get(key)
    except Exception:
        logger.exception("cache unavailable")
        return None


def _cache_set(key: str, value: Any, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.exception("cache unavailable")


# --- GitHub: an OAuth access token, or an authorization code exchanged here ------------------------------


def _github(provider: Provider, credentials: Credentials) -> SocialLogin:
    if credentials.access_token:
        access_token = credentials.access_token
        _github_token_check(provider.app, access_token)
    elif credentials.code:
        _required(redirect_uri=credentials.redirect_uri)
        # No app check here: GitHub issues the token of a code only to the app whose secret redeems it, so
        # a token we exchanged ourselves belongs to our app by construction.
        access_token = _github_exchange(provider.app, credentials.code, credentials.redirect_uri or "")
    else:
        raise errors.ValidationFailed(
            {
                "access_token": [gettext("Send access_token, or code with redirect_uri.")],
                "code": [gettext("Send access_token, or code with redirect_uri.")],
            }
        )
    request = allauth_context.request
    token = SocialToken(app=provider.app, token=access_token)
    login: SocialLogin = GitHubOAuth2Adapter(request).complete_login(request, provider.app, token)
    return login


def _github_token_check(app: SocialApp, access_token: str) -> None:
    """Refuse a token GitHub did not issue to our OAuth app. GitHub's `/user` answers to any token (one of
    another app, a personal access token), so without this a token obtained by any other app would log into
    the account linked to that GitHub user. The application-token endpoint answers 200 with the token's
    app for a token of ours, and 404 (or 422) for any other token."""
    url = f"{GitHubOAuth2Adapter.api_url}/applications/{app.client_id}/token"
    with get_adapter().get_requests_session() as session:
        response = session.post(
            url,
            json={"access_token": access_token},
            auth=(app.client_id, app.secret),
            headers={"Accept": "application/vnd.github+json"},
        )
    if response.status_code in (404, 422):
        raise OAuth2Error("token not issued to this app")
    if response.status_code in (401, 403):
        # Our own client id or secret is wrong: the operator's problem, not the caller's token.
        logger.error("social provider github refused our app credentials (%s)", response.status_code)
        raise errors.ProviderUnavailable()
    response.raise_for_status()
    data = response.json()
    owner = data.get("app") if isinstance(data, dict) else None
    if not isinstance(owner, dict) or str(owner.get("client_id")) != str(app.client_id):
        raise OAuth2Error("token issued to another app")


def _github_exchange(app: SocialApp, code: str, redirect_uri: str) -> str:
    # allauth's OAuth2Client reports a 5xx as a bad code; we need to tell the two apart.
    with get_adapter().get_requests_session() as session:
        response = session.post(
            GitHubOAuth2Adapter.access_token_url,
            data={
                "client_id": app.client_id,
                "client_secret": app.secret,
                "code": code,
                "redirect_uri": redirect_uri,
            },
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        data = response.json()
    if not isinstance(data, dict) or not data.get("access_token"):
        # GitHub answers 200 {"error": "bad_verification_code"} for a bad or spent code.
        raise OAuth2Error(str(data.get("error") if isinstance(data, dict) else "no access token"))
    return str(data["access_token"])


# --- Facebook: an access token inspected with the app token, then /me with appsecret_proof --------------


def _facebook(provider: Provider, credentials: Credentials) -> SocialLogin:
    _required(access_token=credentials.access_token)
    login: SocialLogin = facebook_flows.verify_token(
        allauth_context.request, provider, credentials.access_token or ""
    )
    return login


_VERIFIERS: dict[str, Callable[[Provider, Credentials], SocialLogin]] = {
    "google": _google,
    "github": _github,
    "facebook": _facebook,
}
