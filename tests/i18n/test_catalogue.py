"""The German catalogue is complete, current and compiled: every string the code and the templates mark is in
locale/de/LC_MESSAGES/django.po with a translation (none empty, none fuzzy), placeholders kept, and the
committed django.mo says the same as the .po. Runs without GNU gettext; with it, makemessages is run into a
copy of the tree as well. docs/i18n.md."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Where makemessages looks (bin/messages): the apps, the site templates; not tests, benchmarks or docs.
SKIP = {".venv", "var", "tests", "bench", "docs", "node_modules", ".git", "locale"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
GETTEXT = {"gettext", "gettext_lazy", "gettext_noop", "_", "ngettext", "ngettext_lazy"}


def catalogue() -> polib.POFile:
    return polib.pofile(str(PO))


def sources(suffix: str) -> list[Path]:
    return [
        path
        for path in ROOT.rglob(f"*{suffix}")
        if not SKIP & set(path.relative_to(ROOT).parts) and "migrations" not in path.parts
    ]


def python_strings(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT:
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            found.update(args[:2] if node.func.id.startswith("ngettext") else args[:1])
    return found


STRING = r"""u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
CALL = re.compile(rf"\b(?:n?gettext|_)\(({STRING})(?:,\s*({STRING}))?")


def template_strings(source: str) -> set[str]:
    """The msgids of a template, read from Django's own `templatize` (what makemessages feeds xgettext)."""
    found: set[str] = set()
    for match in CALL.finditer(templatize(source)):
        found.update(ast.literal_eval(group) for group in match.groups() if group)
    return found


def marked_strings() -> set[str]:
    found: set[str] = set()
    for path in sources(".py"):
        found |= python_strings(path.read_text())
    for suffix in (".html", ".txt"):
        for path in sources(suffix):
            if "templates" in path.parts:
                found |= template_strings(path.read_text())
    return found


def catalogue_strings(po: polib.POFile) -> set[str]:
    return {e.msgid for e in po} | {e.msgid_plural for e in po if e.msgid_plural}


def test_every_entry_is_translated_and_none_is_fuzzy() -> None:
    po = catalogue()
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []
    assert not po.metadata_is_fuzzy and po.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert len(po) > 400


def test_translations_keep_every_placeholder() -> None:
    wrong = []
    for entry in catalogue():
        pairs = [(entry.msgid, entry.msgstr)]
        if entry.msgid_plural:
            pairs = [(entry.msgid, entry.msgstr_plural[0]), (entry.msgid_plural, entry.msgstr_plural[1])]
        for source, translated in pairs:
            if source and set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(translated)):
                wrong.append(source)
    assert wrong == []


def test_the_compiled_catalogue_matches_the_po() -> None:
    """django.mo is committed (no machine needs gettext); it must say exactly what django.po says."""
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in catalogue():
        if entry.msgid_plural:
            forms = [compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
            if forms != [entry.msgstr_plural[0], entry.msgstr_plural[1]]:
                stale.append(entry.msgid)
        elif compiled.gettext(entry.msgid) != entry.msgstr:
            stale.append(entry.msgid)
    assert stale == [], "run bin/messages compile"
    po = catalogue()
    expected = len(po) + len([e for e in po if e.msgid_plural]) + 1  # a plural is two entries; + the header
    assert len(compiled._catalog) == expected  # type: ignore[attr-defined]


def test_every_marked_string_is_in_the_catalogue_and_no_other() -> None:
    """Without gettext tools: the strings Python code and templates mark, read the way makemessages reads
    them, against the catalogue. A new string fails until `bin/messages` has been run and it is translated."""
    marked, known = marked_strings(), catalogue_strings(catalogue())
    assert sorted(marked - known) == [], (
        "new strings: run bin/messages extract, translate, bin/messages compile"
    )
    assert sorted(known - marked) == [], "strings no longer used: run bin/messages extract"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_makemessages_finds_nothing_new(tmp_path: Path) -> None:
    """makemessages itself, run in a copy of the tree, yields exactly the catalogue's strings."""
    copy = tmp_path / "tree"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*(SKIP - {"locale"}), "__pycache__", "*.mo"))
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "de", "--no-location", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "de" / "LC_MESSAGES" / "django.po"))
    assert catalogue_strings(fresh) == catalogue_strings(catalogue())
    assert [e.msgid for e in fresh.untranslated_entries()] == []
