"""The layout rules of docs/architecture.md that the code can check: the import contracts in pyproject.toml
(also a CI step of its own) and no module using another module's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("core", "audit", "accounts", "gdpr", "integrations", "adminapi", "console", "config")


def test_import_contracts_are_kept() -> None:
    # In a process of its own: import-linter's CLI configures logging, which would change this test run's.
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(path: Path) -> list[str]:
    """`from x import _name` and `module._name` where `module` is an imported module or name."""
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if _private(alias.name):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            imported.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr != "_meta"  # Django's public model options
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return sorted(found)


def test_no_module_uses_another_modules_private_names() -> None:
    found = [
        use
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for use in private_uses(path)
    ]
    assert found == []


def test_the_private_name_check_finds_both_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "m.py"
    module.write_text("from a import _b, c\nimport d\nd._e()\nc._f\nlocal = 1\nlocal._g\nd._meta\n")
    assert private_uses(module) == ["m.py:1 imports a._b", "m.py:3 uses d._e", "m.py:4 uses c._f"]
