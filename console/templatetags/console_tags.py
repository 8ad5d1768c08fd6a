"""Words for the stored codes the console shows: "awaiting approval", not awaiting_approval."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

# Data request statuses in words, in the console's language (some codes do not read well as words).
_STATUS_WORDS = {
    "pending": _("queued"),
    "awaiting_approval": _("awaiting approval"),
    "approved": _("scheduled"),
    "running": _("running"),
    "ready": _("ready"),
    "completed": _("completed"),
    "expired": _("expired"),
    "failed": _("failed"),
    "rejected": _("rejected"),
    "cancelled": _("cancelled"),
}
# The badge colour of a status: ok (done), warn (under way or waiting for someone), bad (gave up).
_STATUS_TONE = {
    "ready": "ok",
    "completed": "ok",
    "pending": "warn",
    "awaiting_approval": "warn",
    "approved": "warn",
    "running": "warn",
    "failed": "bad",
}


@register.filter
def words(code: str | None) -> str:
    """A stored code in words: force_logout → force logout."""
    return (code or "").replace("_", " ")


@register.filter
def status_label(status: str | None) -> str:
    label = _STATUS_WORDS.get(status or "")
    return str(label) if label is not None else words(status)


@register.filter
def status_tone(status: str | None) -> str:
    return _STATUS_TONE.get(status or "", "")
