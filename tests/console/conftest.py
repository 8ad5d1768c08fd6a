from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import User

HTMX = {"HX-Request": "true"}


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


def permissions(labels: list[str]) -> list[Any]:
    from django.contrib.auth.models import Permission

    found = []
    for label in labels:
        app_label, codename = label.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def with_roles(user: User, *roles: str) -> User:
    """The user in the console's default roles (console.roles), as `manage.py console_roles` makes them."""
    from django.contrib.auth.models import Group

    from console.roles import ROLES

    for name in roles:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions(ROLES[name]))
        user.groups.add(group)
    return User.objects.get(pk=user.pk)  # no stale permission cache


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    """A support team member (the Support role)."""
    user = make_user(email="staff@example.com", is_staff=True, first_name="Sam", last_name="Staff")
    return with_roles(user, "Support")


@pytest.fixture
def approver(make_user: Callable[..., User]) -> User:
    """A staff member in both roles, Support and Approver."""
    return with_roles(make_user(email="approver@example.com", is_staff=True), "Support", "Approver")


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def client_for(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
