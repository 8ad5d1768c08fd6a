"""Authentication of the admin API: `Authorization: Bearer cus_…` with a key holding the operation's scope.

A security scheme of its own (`ApiKeyBearer` in the OpenAPI document), distinct from the users' access tokens
(`SessionBearer`): an access token is not a key here, and a key is not an access token anywhere else."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from adminapi import errors, scopes, selectors, services
from adminapi.models import ApiKey
from core import context
from core.security import QuietHttpBearer


class ApiKeyBearer(QuietHttpBearer):
    openapi_bearerFormat = "API key (cus_…)"
    openapi_description = (
        "An admin API key, created by a superuser in the console or with `manage.py apikeys create`. "
        "Each operation needs one scope, named in its security requirement."
    )

    def __init__(self, scope: str) -> None:
        if scope not in scopes.SCOPES:
            raise ImproperlyConfigured(f"unknown admin API scope {scope!r}")
        self.scope = scope
        super().__init__()

    @property
    def error_types(self) -> tuple[errors.AdminApiError | type[errors.AdminApiError], ...]:
        """What this check answers besides `not_authenticated`; config/openapi.py lists them."""
        return (
            errors.ApiKeyInvalid,
            errors.ApiKeyExpired,
            errors.ApiKeyRevoked,
            errors.InsufficientScope(self.scope),
        )

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        """The key (401 if it does not work), recorded as used; 403 insufficient_scope without the scope.
        From here on the request acts as the key's owner, and audit events name the key."""
        api_key = selectors.api_key_for_secret(raw=token)
        services.api_key_touch(api_key=api_key)
        if self.scope not in api_key.scopes:
            raise errors.InsufficientScope(self.scope)
        context.bind_api_key(
            context.ActingKey(id=api_key.pk, prefix=api_key.prefix, owner_id=api_key.owner_id)
        )
        return api_key


_instances: dict[str, ApiKeyBearer] = {}


def key_auth(scope: str) -> ApiKeyBearer:
    """The authentication of operations that need `scope` (one instance per scope)."""
    if scope not in _instances:
        _instances[scope] = ApiKeyBearer(scope)
    return _instances[scope]
