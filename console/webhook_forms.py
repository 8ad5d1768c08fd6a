"""Forms of the console's webhook pages (their own module: the webhook pages are a feature of their own)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from integrations import events
from integrations.models import ALL_EVENTS, DeliveryStatus
from integrations.services.endpoints import MAX_GRACE_HOURS


def event_type_choices() -> list[tuple[str, str]]:
    return [(ALL_EVENTS, gettext("All event types, including ones added later"))] + [
        (name, f"{name} — {text}") for name, text in events.EVENT_TYPES.items()
    ]


class EndpointForm(forms.Form):
    url = forms.CharField(label=_("URL"), max_length=2000, strip=True)
    description = forms.CharField(label=_("Description"), required=False, max_length=200, strip=True)
    event_types = forms.MultipleChoiceField(
        label=_("Event types"), choices=event_type_choices, widget=forms.CheckboxSelectMultiple
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def add_domain_error(self, exc: DomainError) -> None:
        """A service's refusal (a private URL, say) shown at the field it is about."""
        fields = exc.details.get("fields", {})
        for name, messages in fields.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        if not fields:
            self.add_error(None, str(exc.message))


class RotateForm(forms.Form):
    grace_hours = forms.FloatField(
        label=_("Old secret keeps signing for (hours)"), min_value=0, max_value=MAX_GRACE_HOURS, initial=24
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", _("All")), *DeliveryStatus.choices])
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)
