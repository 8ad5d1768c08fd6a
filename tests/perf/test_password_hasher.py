"""Production hashing: Argon2id with Django's memory and time cost and one lane (accounts.hashers)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2

from accounts.models import User
from tests.conftest import PASSWORD, ApiClient

PRODUCTION_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]


def test_production_settings_hash_with_one_lane_argon2id() -> None:
    from config import settings as production

    assert production.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2PasswordHasher"


@pytest.mark.django_db
def test_new_hashes_use_one_lane_and_the_same_cost(settings, make_user) -> None:
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = make_user()
    assert user.password.startswith("argon2$argon2id$v=19$m=102400,t=2,p=1$")


@pytest.mark.django_db
def test_eight_lane_hashes_still_log_in_and_are_rehashed_once(settings, api: ApiClient, make_user) -> None:
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    user = make_user()
    old = DjangoArgon2().encode(PASSWORD, DjangoArgon2().salt())
    User.objects.filter(pk=user.pk).update(password=old)
    assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200
    user.refresh_from_db()
    assert ",p=1$" in user.password and user.check_password(PASSWORD)
    rehashed = user.password
    assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200
    user.refresh_from_db()
    assert user.password == rehashed  # no re-hash once current
    assert (
        api.post_json("/auth/token", {"login": user.email, "password": "wrong-password-1"}).status_code == 401
    )
