from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from adminapi import scopes, services
from tests.conftest import ApiClient

ALL_SCOPES = list(scopes.SCOPES)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    # Exports started through the admin API are built (huey runs inline in tests).
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def make_key(owner: User) -> Callable[..., services.NewKey]:
    def make(
        scopes: list[str] | None = None,
        days: int = 30,
        key_owner: User | None = None,
        name: str = "automation",
    ) -> services.NewKey:
        holder = key_owner or owner
        return services.api_key_create(
            owner=holder,
            actor=holder,
            name=name,
            scopes=ALL_SCOPES if scopes is None else scopes,
            expires_at=timezone.now() + timedelta(days=days),
        )

    return make


@pytest.fixture
def key(make_key: Callable[..., services.NewKey]) -> str:
    """A key with every scope."""
    return make_key().secret


class AdminClient:
    """ApiClient calls to /api/v1/admin with a key."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def __call__(self, method: str, path: str, body: Any = None, *, key: str | None, **extra: Any) -> Any:
        return self.api.call(method, "/admin" + path, body, token=key, **extra)


@pytest.fixture
def admin(api: ApiClient) -> AdminClient:
    return AdminClient(api)
