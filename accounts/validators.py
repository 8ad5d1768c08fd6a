from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext


class MaximumLengthValidator:
    """Caps password length so a huge password cannot make hashing a denial-of-service lever."""

    def __init__(self, max_length: int = 128) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                gettext("This password is too long. It must contain at most %(max)d characters.")
                % {"max": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return gettext("Your password must contain at most %(max)d characters.") % {"max": self.max_length}


_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,32}$")
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")
_MAX_LENGTHS = {"phone": 32, "website": 200, "bio": 2000, "locale": 16}
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _profile_field_error(field: str, value: Any) -> str | None:
    if field == "birth_date":
        if value is None:
            return None
        if not isinstance(value, date) or isinstance(value, datetime):
            return gettext("Enter a date as YYYY-MM-DD.")
        if not _EARLIEST_BIRTH_DATE <= value <= timezone.localdate():
            return gettext("Enter a birth date between 1900-01-01 and today.")
        return None
    if not isinstance(value, str):
        return gettext("Enter text.")
    if len(value) > _MAX_LENGTHS.get(field, 255):
        return gettext("Enter at most %(limit)d characters.") % {"limit": _MAX_LENGTHS.get(field, 255)}
    if not value:
        return None
    if field == "phone" and (not _PHONE_RE.match(value) or sum(c.isdigit() for c in value) < 3):
        return gettext("Enter a phone number: digits, spaces, + ( ) . / - only.")
    if field == "website":
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            return gettext("Enter a full http:// or https:// address.")
    if field == "locale" and not _LOCALE_RE.match(value):
        return gettext("Enter a language tag such as en, de-CH or pt_BR.")
    return None


def profile_errors(changes: dict[str, Any]) -> dict[str, list[str]]:
    """Per-field messages for profile values that do not fit (empty when all do). Lives here, not in the API
    schema, so every door that updates a profile enforces it."""
    found = {field: _profile_field_error(field, value) for field, value in changes.items()}
    return {field: [message] for field, message in found.items() if message}


def password_problems(password: str, user: Any, field: str = "password") -> dict[str, list[str]]:
    """Django's password validators (AUTH_PASSWORD_VALIDATORS) as per-field messages; empty when it passes."""
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return {field: list(exc.messages)}
    return {}
