"""The documentation stands on its own: README.md, docs/ and the code's comments and docstrings cite nothing a
reader of this repository cannot find (a product spec, a style guide, tracker issues, branches, people), and
every file they name or link to exists."""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Not the project's text: installed or generated files, run-time data.
PRUNE = {
    ".git",
    ".venv",
    "node_modules",
    "var",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".schemathesis",
    "test-artifacts",
    "build",
}
GENERATED = {ROOT / "tests" / "sdk" / "ts" / "src" / "custodian.ts"}
TEXT_SUFFIXES = {
    ".md",
    ".py",
    ".html",
    ".txt",
    ".toml",
    ".yml",
    ".yaml",
    ".ts",
    ".json",
    ".lua",
    ".sh",
    ".cfg",
}

# Citations a reader cannot look up, each with what it points at.
UNRESOLVABLE = [
    (re.compile(r"\bSPEC\b|\b[Tt]he spec\b"), "a specification that is not in this repository"),
    (re.compile(r"STYLE\.md|PITFALLS"), "a guide that is not in this repository"),
    (
        re.compile(r"(?<!RFC )(?<!RFC \d{4} )§\s*\d"),
        "a section number of a document that is not in this repository",
    ),
    (
        re.compile(r"\bissues? #?\d+|\bthe issue\b|\bissue's\b", re.IGNORECASE),
        "an issue tracker a reader cannot see",
    ),
    (
        re.compile(r"\bbranch(es)?\b|\bmain's\b|\bmain (was|is|has been) merged\b|\bafter the merge\b", re.I),
        "git history",
    ),
    (
        re.compile(r"\bthe lead\b|\bother engineers?\b|\bworktrees?\b", re.IGNORECASE),
        "people and setups a reader does not know",
    ),
]
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def project_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in PRUNE and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            if path == THIS or path in GENERATED or path.name == "package-lock.json":
                continue
            if path.suffix in TEXT_SUFFIXES or path.parent.name in {"bin", ".ci"}:
                yield path


def prose(path: Path) -> str:
    """What a reader reads as text: a Markdown file whole; of Python, its comments and docstrings; of any
    other file (templates, scripts, configuration), the whole text."""
    text = path.read_text(errors="replace")
    if path.suffix != ".py":
        return text
    lines = text.splitlines()
    kept = ["" for _ in lines]
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            kept[token.start[0] - 1] = token.string
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                for number in range(first.lineno, (first.end_lineno or first.lineno) + 1):
                    kept[number - 1] = lines[number - 1]
    # Line numbers stay those of the file.
    return "\n".join(kept)


def repository_paths(text: str) -> Iterator[str]:
    """Paths into this repository a text names: they start with one of its top-level folders and name a file
    (an extension, or a script under bin/, bench/ or .ci/). Storage keys and template names have neither."""
    tops = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in PRUNE)
    pattern = re.compile(r"(?<![\w./-])((?:" + "|".join(map(re.escape, tops)) + r")/[\w./-]*\w)")
    for match in pattern.finditer(text):
        path = match.group(1)
        if re.search(r"\.\w+$", path) or path.split("/")[0] in {"bin", "bench", ".ci"}:
            yield path


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_nothing_cites_what_a_reader_cannot_find() -> None:
    found = []
    files = [*DOCS, *project_files()]
    for path in dict.fromkeys(files):
        for number, line in enumerate(prose(path).splitlines(), 1):
            for pattern, what in UNRESOLVABLE:
                match = pattern.search(line)
                if match:
                    found.append(
                        f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r} cites {what}: {line.strip()}"
                    )
    assert found == [], "say the thing itself instead:\n" + "\n".join(found)


def test_markdown_links_resolve() -> None:
    broken = []
    for doc in DOCS:
        text = doc.read_text()
        for target in MARKDOWN_LINK.findall(text):
            if re.match(r"[a-z][a-z+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (doc.parent / file_part).resolve() if file_part else doc
            if not linked.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text()):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == [], "\n".join(broken)


def test_files_named_in_docs_and_code_exist() -> None:
    missing = []
    for path in dict.fromkeys([*DOCS, *project_files()]):
        if path.suffix in {".html", ".txt"}:
            continue  # template names ("console/_base.html") are not paths from the repository's root
        for named in repository_paths(prose(path)):
            if not (ROOT / named).exists():
                missing.append(f"{path.relative_to(ROOT)} names {named}")
    assert missing == [], "\n".join(missing)


def test_the_checks_see_what_they_look_for() -> None:
    cited = "See SPEC §4, STYLE.md, issue 7 and the other branches; the lead decides."
    assert all(p.search(cited) for p, _ in UNRESOLVABLE)
    assert list(repository_paths("`docs/settings.md`, bin/serve, gdpr/exports, accounts/email/verify.")) == [
        "docs/settings.md",
        "bin/serve",
    ]
    assert "generating-an-sdk" in _anchors((ROOT / "docs" / "api.md").read_text())


def _environment_variables_read(path: Path) -> set[str]:
    """Names passed to `env.<type>("NAME", ...)` and tested with `"NAME" in env`."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and any(isinstance(c, ast.Name) and c.id == "env" for c in node.comparators)
        ):
            names.add(str(node.left.value))
    return names


def test_every_environment_variable_the_settings_read_is_in_settings_md() -> None:
    names = _environment_variables_read(ROOT / "config" / "settings.py")
    names |= _environment_variables_read(ROOT / "config" / "settings_test.py")
    assert {"SECRET_KEY", "STORAGE_BACKEND", "AWS_STORAGE_BUCKET_NAME", "EMAIL_URL"} <= names
    table = (ROOT / "docs" / "settings.md").read_text()
    assert sorted(n for n in names if f"`{n}`" not in table) == []
