"""Reads of social login."""

from __future__ import annotations

from allauth.socialaccount.models import SocialAccount
from django.db.models import QuerySet

from accounts.models import User


def social_account_list(*, user: User) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(user=user).order_by("date_joined", "id")


def user_login_methods(*, user: User) -> list[str]:
    """Every way the user can log in: "password" if they have a usable one, then each linked provider (a
    provider linked twice counts twice: either identity logs in)."""
    methods = ["password"] if user.has_usable_password() else []
    methods += list(social_account_list(user=user).values_list("provider", flat=True))
    return methods
