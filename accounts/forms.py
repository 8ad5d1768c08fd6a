"""Forms of the staff doors (the console's and the admin's logins, the admin's password forms). They parse
input and call the accounts services; Django's own forms would check passwords and write them directly."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

from accounts import errors, services
from accounts.models import User
from core.errors import RateLimited


def _minutes(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return gettext("a minute") if minutes == 1 else gettext("%(count)d minutes") % {"count": minutes}


def refusal(exc: RateLimited) -> ValidationError:
    """A lock or a rate limit as a form error that says when to try again."""
    wait = _minutes(int(exc.details["retry_after"]))
    if isinstance(exc, errors.AccountLocked):
        message = gettext("Too many failed attempts for this account. Try again in %(wait)s.") % {
            "wait": wait
        }
    else:
        message = gettext("Too many sign-in attempts from your network. Try again in %(wait)s.") % {
            "wait": wait
        }
    return ValidationError(message, code=exc.code)


class StaffAuthenticationForm(auth_forms.AuthenticationForm):
    """The console's login form: Django's (one answer for an unknown login, a wrong password and a
    non-staff account), checked by accounts.backends through the one credential check. A locked account or
    an IP over its limit is a form error, never a 500."""

    username = forms.CharField(label=gettext_lazy("E-mail or username"), max_length=254)

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except RateLimited as exc:
            raise refusal(exc)
        except errors.SecondFactorRequired as exc:
            raise ValidationError(exc.message, code=exc.code)


class AdminLoginForm(StaffAuthenticationForm, AdminAuthenticationForm):
    """The admin's login form: the console's rules, the admin's messages."""


class PasswordSetForm(auth_forms.AdminPasswordChangeForm):
    """The admin's "change password" form for a user, saved by `services.password_set`: every session of
    the user ends, the staff member is the audited actor and the user gets the password-changed mail.
    "Disable password-based authentication" sets an unusable password the same way."""

    def __init__(self, user: User, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.actor = actor

    def save(self, commit: bool = True) -> User:
        new_password = self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        services.password_set(user=self.user, actor=self.actor, new_password=new_password)
        return self.user


class OwnPasswordChangeForm(auth_forms.PasswordChangeForm):
    """A staff member's own password change in the admin. The current password goes through the one
    re-authentication check (wrong ones count toward the account's lockout), the new one through
    `services.password_set`."""

    required_css_class = "required"

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        try:
            services.password_confirm(user=self.user, password=old_password, purpose="password_change")
        except errors.WrongPassword:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        except RateLimited as exc:
            raise refusal(exc)
        return old_password

    def save(self, commit: bool = True) -> User:
        services.password_set(
            user=self.user, actor=self.user, new_password=self.cleaned_data["new_password1"]
        )
        return self.user
