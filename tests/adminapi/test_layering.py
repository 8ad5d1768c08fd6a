"""The admin API sits between gdpr and the console: config > console > adminapi > gdpr > accounts > audit >
core. It imports the domain apps below it and never the console or config; nothing below imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_adminapi_imports_neither_the_console_nor_config() -> None:
    paths = list((ROOT / "adminapi").rglob("*.py"))
    assert paths
    for path in paths:
        assert not (_imports(path) & {"console", "config"}), path


def test_no_lower_layer_imports_adminapi() -> None:
    for app in ("gdpr", "accounts", "audit", "core"):
        for path in (ROOT / app).rglob("*.py"):
            assert "adminapi" not in _imports(path), path
