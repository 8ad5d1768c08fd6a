from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone


class UserSearchForm(forms.Form):
    STATUS_CHOICES = [
        ("", "All"),
        ("live", "Live"),
        ("deleted", "Deleted"),
        ("unverified", "Unverified"),
        ("staff", "Staff"),
    ]
    # Offset pages get slower the deeper they go; past this, refining the search is the better answer.
    MAX_PAGE = 40

    q = forms.CharField(required=False, max_length=254, strip=True, label="Search")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "max_value": "That is deep: narrow the search instead (at most %(limit_value)s pages)."
        },
    )


class PageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)


def _day_start(value: Any) -> datetime | None:
    return timezone.make_aware(datetime.combine(value, time.min)) if value else None


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=64, help_text='End with "." for a prefix.')
    actor = forms.UUIDField(required=False, label="Actor id")
    subject = forms.UUIDField(required=False, label="Subject id")
    since = forms.DateField(required=False, label="From (UTC date)")
    until = forms.DateField(required=False, label="Until (UTC date, inclusive)")
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        until = _day_start(data.get("until"))
        return {
            "action": data.get("action") or "",
            "actor_id": data.get("actor"),
            "subject_id": data.get("subject"),
            "since": _day_start(data.get("since")),
            "until": until + timedelta(days=1) if until else None,
        }


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=True, max_length=500, strip=True, widget=forms.Textarea(attrs={"rows": 2})
    )


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500, strip=True)


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
