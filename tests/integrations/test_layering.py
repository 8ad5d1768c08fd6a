"""integrations hears of changes only through the audit subscriber registry (the import contracts in
pyproject.toml keep the lower apps from importing it), and only for the actions webhooks carry."""

from __future__ import annotations

from audit.services import events as audit_events
from integrations import events


def test_only_webhook_actions_are_subscribed():
    """Logins and refreshes (the hot paths) have no subscriber, so they never pay for webhooks."""
    subscribed = {
        action
        for action, listeners in audit_events._subscribers.items()
        if events.on_audit_event in listeners
    }
    assert subscribed == set(events.ACTIONS)
    assert not {"auth.login", "session.refreshed", "auth.login_failed"} & set(audit_events._subscribers)
