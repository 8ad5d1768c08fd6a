"""integrations sits above gdpr and below the console: the lower apps never import it (they reach it only
through the audit subscriber registry), and it never imports the console or config."""

from __future__ import annotations

from pathlib import Path

from audit import services as audit
from integrations import events
from tests.audit.test_layering import _imports

ROOT = Path(__file__).resolve().parents[2]


def test_lower_apps_do_not_import_integrations():
    for app in ("core", "audit", "accounts", "gdpr"):
        for path in (ROOT / app).rglob("*.py"):
            assert "integrations" not in _imports(path), path


def test_integrations_imports_neither_console_nor_config():
    for path in (ROOT / "integrations").rglob("*.py"):
        assert not (_imports(path) & {"console", "config"}), path


def test_only_webhook_actions_are_subscribed():
    """Logins and refreshes (the hot paths) have no subscriber, so they never pay for webhooks."""
    subscribed = {
        action for action, listeners in audit._subscribers.items() if events.on_audit_event in listeners
    }
    assert subscribed == set(events.ACTIONS)
    assert not {"auth.login", "session.refreshed", "auth.login_failed"} & set(audit._subscribers)
