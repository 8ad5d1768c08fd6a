from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User

HTMX = {"HX-Request": "true"}


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user(email="staff@example.com", is_staff=True, first_name="Sam", last_name="Staff")


@pytest.fixture
def approver(make_user: Callable[..., User]) -> User:
    from django.contrib.auth.models import Permission

    user = make_user(email="approver@example.com", is_staff=True)
    perm = Permission.objects.filter(content_type__app_label="gdpr", codename="approve_erasure").first()
    if perm is not None:
        user.user_permissions.add(perm)
    return user


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def client_for(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
