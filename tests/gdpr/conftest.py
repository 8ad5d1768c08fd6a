from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def approver(make_user: Callable[..., User]) -> User:
    """A staff member holding gdpr.approve_erasure (not a superuser: the permission is what counts)."""
    staff = make_user(email="grace@example.com", is_staff=True, first_name="Grace")
    staff.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    return User.objects.get(pk=staff.pk)


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(email="root@example.com", password=PASSWORD)
