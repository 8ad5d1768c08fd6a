from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors


class UserSearchForm(forms.Form):
    STATUS_CHOICES = [
        ("", _("All")),
        ("live", _("Live")),
        ("deleted", _("Deleted")),
        ("unverified", _("Unverified")),
        ("staff", _("Staff")),
    ]
    # Offset pages get slower the deeper they go; past this, refining the search is the better answer.
    MAX_PAGE = 40

    q = forms.CharField(required=False, max_length=254, strip=True, label=_("Search"))
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "max_value": _("That is deep: narrow the search instead (at most %(limit_value)s pages).")
        },
    )


class PageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)


def _day_start(value: Any) -> datetime | None:
    return timezone.make_aware(datetime.combine(value, time.min)) if value else None


def _people(value: str) -> list[uuid.UUID] | None:
    """A user id, or an e-mail address → the ids of every account, live or deleted, that has it (a freed
    address can belong to a live account and to deleted ones)."""
    value = value.strip()
    if not value:
        return None
    user_id = parse_uuid(value)
    if user_id is not None:
        return [user_id]
    if "@" not in value:
        raise forms.ValidationError(_("Enter an e-mail address or a user id."))
    ids = account_selectors.user_ids_by_email(email=value)
    if not ids:
        raise forms.ValidationError(
            _("No account, live or deleted, has this e-mail address (an erased account's address is gone).")
        )
    return ids


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=64, help_text=_('End with "." for a prefix.'))
    actor = forms.CharField(required=False, max_length=254, label=_("Actor (e-mail or id)"))
    subject = forms.CharField(required=False, max_length=254, label=_("Subject (e-mail or id)"))
    since = forms.DateField(required=False, label=_("From (UTC date)"))
    until = forms.DateField(required=False, label=_("Until (UTC date, inclusive)"))
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)

    def clean_actor(self) -> list[uuid.UUID] | None:
        return _people(self.cleaned_data["actor"])

    def clean_subject(self) -> list[uuid.UUID] | None:
        return _people(self.cleaned_data["subject"])

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        until = _day_start(data.get("until"))
        return {
            "action": data.get("action") or "",
            "actor_ids": data.get("actor"),
            "subject_ids": data.get("subject"),
            "since": _day_start(data.get("since")),
            "until": until + timedelta(days=1) if until else None,
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=True,
        max_length=500,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": _("Give a reason: it is kept in the audit log."),
            "max_length": _("Keep the reason to %(limit_value)d characters."),
        },
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, strip=True)


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


class LoginForm(forms.Form):
    username = forms.CharField(label=_("E-mail or username"), max_length=254)
    password = forms.CharField(label=_("Password"), strip=False, max_length=4096, widget=forms.PasswordInput)


class CodeForm(forms.Form):
    """A 6-digit authenticator-app code, or a recovery code (case, spaces and dashes do not matter)."""

    code = forms.CharField(label=_("Code"), max_length=64, strip=True)
