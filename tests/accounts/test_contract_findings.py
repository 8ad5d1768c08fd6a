"""Contract findings in the accounts operations (bin/fuzz and the contract review), kept as regressions."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from audit.models import AuditEvent


def test_patch_me_null_name_clears_it_instead_of_a_false_409(
    api: Any, user: User, tokens: dict[str, Any]
) -> None:
    """Found reading the contract the fuzzer checks: `{"first_name": null}` (schema: string or null) failed
    the NOT NULL constraint and came back as 409 username_taken."""
    user.first_name, user.last_name = "Ada", "Lovelace"
    user.save(update_fields=["first_name", "last_name"])
    response = api.call("patch", "/me", {"first_name": None, "last_name": None}, token=tokens["access"])
    assert response.status_code == 200, response.content
    assert (response.json()["first_name"], response.json()["last_name"]) == ("", "")
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("", "")
    assert AuditEvent.objects.filter(action="user.updated").count() == 1
