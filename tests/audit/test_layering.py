import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OTHER_APPS = {"accounts", "gdpr", "console", "config"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_audit_imports_no_other_app():
    for path in (ROOT / "audit").rglob("*.py"):
        assert not (_imports(path) & OTHER_APPS), path


def test_no_domain_app_imports_the_console():
    for app in ("accounts", "gdpr", "audit"):
        for path in (ROOT / app).rglob("*.py"):
            assert "console" not in _imports(path), path
