from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.models import User


class LiveUserBackend(ModelBackend):
    """Django's ModelBackend, but login is an e-mail or a username and only live users match."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kw: Any
    ) -> User | None:
        login = username or kw.get("email") or kw.get("login")
        if not login or password is None:
            return None
        user = User.objects.by_login(login).first()
        if user is None:
            User().set_password(password)  # same hashing work for unknown logins
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def get_user(self, user_id: Any) -> User | None:
        return User.objects.live().filter(pk=user_id, is_active=True).first()
