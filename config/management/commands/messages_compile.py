"""Compile every locale/<lang>/LC_MESSAGES/django.po into the django.mo Django loads, without GNU gettext.

Django's own `compilemessages` runs msgfmt; this does the same in pure Python with polib (in the test extra),
so a machine without gettext can refresh the catalogues (`bin/messages compile`; docs/i18n.md). A catalogue
with an untranslated or fuzzy entry is refused: English would leak into the language it claims to be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def problems(po: Any) -> list[str]:
    """Entries of a polib catalogue that would not translate: untranslated or fuzzy."""
    found = [f"untranslated: {e.msgid!r}" for e in po.untranslated_entries()]
    found += [f"fuzzy: {e.msgid!r}" for e in po.fuzzy_entries()]
    return found


class Command(BaseCommand):
    help = (
        "Compile locale/*/LC_MESSAGES/django.po into django.mo (pure Python; refuses incomplete catalogues)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            import polib
        except ImportError as exc:  # pragma: no cover - the test extra installs it
            raise CommandError("polib is needed: install the test extra (bin/setup test).") from exc
        for base in settings.LOCALE_PATHS:
            for po_path in sorted(Path(base).glob("*/LC_MESSAGES/django.po")):
                po = polib.pofile(str(po_path), wrapwidth=0)
                po.metadata_is_fuzzy = (
                    False  # the header is filled in; a fuzzy header would drop Plural-Forms
                )
                if found := problems(po):
                    raise CommandError(f"{po_path}: " + "; ".join(found[:10]))
                po.save(str(po_path))
                po.save_as_mofile(str(po_path.with_suffix(".mo")))
                self.stdout.write(f"{po_path.with_suffix('.mo')}: {len(po.translated_entries())} messages")
