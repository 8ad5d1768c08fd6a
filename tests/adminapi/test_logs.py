"""Keys never appear in logs, error answers, audit details or outbox messages: every log record (all
loggers, DEBUG and up, DEBUG mode on) of creating keys in the console and on the command line, using them,
sending them the wrong way, revoked and expired, and an unexpected server error during a keyed request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts import selectors as account_selectors
from accounts.models import User
from adminapi import keys
from adminapi.models import ApiKey
from audit.models import AuditEvent
from core.models import OutboxMessage


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture, settings: Any) -> Iterator[pytest.LogCaptureFixture]:
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    yield caplog


def _secret_parts(secret: str) -> list[str]:
    # The whole key, and its random part alone (the prefix is public by design).
    return [secret, secret.split("_", 2)[2]]


def _assert_nowhere(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for part in _secret_parts(secret):
            for text in texts:
                assert part not in text


def test_keys_never_appear_in_logs(
    everything_logged: pytest.LogCaptureFixture, admin: Any, api: Any, owner: User, monkeypatch: Any
) -> None:
    console = Client()
    console.force_login(owner)
    page = console.post(
        "/console/api-keys/", {"name": "console key", "scopes": ["users:read"], "expires_in_days": "30"}
    )
    assert page.status_code == 201
    from_console = page.content.decode().split('<code id="new-key" class="kv">', 1)[1].split("<", 1)[0]

    out, err = io.StringIO(), io.StringIO()
    call_command(
        "apikeys",
        "create",
        "--owner",
        owner.email,
        "--name",
        "cli key",
        "--scope",
        "users:read",
        stdout=out,
        stderr=err,
    )
    from_command = out.getvalue().strip()
    secrets = [from_console, from_command]
    assert all(keys.KEY_PATTERN.fullmatch(secret) for secret in secrets)
    responses = []
    for secret in secrets:
        responses.append(admin("get", "/users", key=secret))
        assert responses[-1].status_code == 200
        # The wrong scheme, no scheme, the wrong API, the wrong scope.
        for header in (f"Token {secret}", secret, f"Basic {secret}"):
            responses.append(admin("get", "/users", key=None, headers={"Authorization": header}))
            responses.append(api.call("get", "/me", headers={"Authorization": header}))
        responses.append(api.call("get", "/me", token=secret))
        responses.append(admin("post", f"/users/{owner.pk}/logout", key=secret))

    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("the search broke")

    monkeypatch.setattr(account_selectors, "user_search", boom)
    responses.append(admin("get", "/users", key=from_command))
    assert responses[-1].status_code == 500
    monkeypatch.undo()

    revoked = ApiKey.objects.get(name="cli key")
    call_command("apikeys", "revoke", revoked.prefix, stdout=io.StringIO())
    call_command("apikeys", "list", "--all", stdout=out)
    responses.append(admin("get", "/users", key=from_command))
    assert responses[-1].status_code == 401
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        responses.append(admin("get", "/users", key=from_console))
        assert responses[-1].status_code == 401

    logged = "\n".join(
        [
            everything_logged.text,
            *(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in everything_logged.records),
        ]
    )
    assert "the search broke" in logged and '/api/v1/admin/users" 401' in logged  # the capture works
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    outbox = json.dumps(list(OutboxMessage.objects.values()), default=str)
    stored = json.dumps(list(ApiKey.objects.values()), default=str)
    answers = "\n".join(r.content.decode() + str(r.headers) for r in responses)
    _assert_nowhere(
        secrets,
        logged,
        audit,
        outbox,
        stored,
        answers,
        err.getvalue(),
        out.getvalue().replace(from_command, ""),
    )
