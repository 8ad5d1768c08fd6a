"""Languages: which of the shipped languages a stored locale means (docs/i18n.md).

A profile stores any BCP 47-ish tag the user chose ("de-CH", "pt_BR", "en-GB"); Custodian ships the languages
in `settings.LANGUAGES`. `language_for` maps the one to the other: the exact language if shipped, else its
generic form ("de-CH" → "de"), else the default (`LANGUAGE_CODE`, English).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import get_supported_language_variant, to_language


def language_for(locale: str | None) -> str:
    """The shipped language for a stored locale tag; the default language when none fits."""
    tag = to_language((locale or "").strip()).lower()
    if tag:
        try:
            return get_supported_language_variant(tag)
        except LookupError:
            pass
    return get_supported_language_variant(settings.LANGUAGE_CODE)
