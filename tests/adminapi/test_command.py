"""`manage.py apikeys create|list|revoke`: the key printed once (stdout, alone), lists without keys,
revocation, bad input refused with nothing stored, every change audited as a system action."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from adminapi import keys
from adminapi.models import ApiKey
from audit.models import AuditEvent
from tests.conftest import assert_error


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("apikeys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _create(owner: str = "root@example.com", *extra: str) -> tuple[str, str]:
    return _run("create", "--owner", owner, "--name", "nightly sync", "--scope", "users:read", *extra)


def test_create_prints_the_key_once_and_it_works(owner: User, admin: Any) -> None:
    out, err = _create("ROOT@example.com", "--scope", "gdpr:erasure:read", "--expires-days", "7")
    secret = out.strip()
    assert keys.KEY_PATTERN.fullmatch(secret) and out.count("\n") == 1
    api_key = ApiKey.objects.get()
    assert api_key.prefix in err and secret not in err and "only this once" in err
    assert api_key.owner == owner and api_key.scopes == ["users:read", "gdpr:erasure:read"]
    event = AuditEvent.objects.get(action="api_key.created")
    assert event.actor_type == "system" and event.actor_id is None and event.subject_id == owner.pk
    assert admin("get", "/users", key=secret).status_code == 200


def test_list_shows_prefixes_never_keys(owner: User) -> None:
    first = _create()[0].strip()
    second = _create()[0].strip()
    ApiKey.objects.filter(prefix=second[:12]).update(revoked_at="2026-01-01T00:00:00Z")
    listing = _run("list")[0]
    assert first[:12] in listing and second[:12] not in listing
    assert "nightly sync" in listing and "root@example.com" in listing and "users:read" in listing
    assert "active" in listing and "never" in listing
    everything = _run("list", "--all")[0]
    assert second[:12] in everything and "revoked" in everything
    for secret in (first, second):
        assert secret[13:] not in everything


def test_revoke_by_prefix_or_id(owner: User, admin: Any) -> None:
    secret = _create()[0].strip()
    api_key = ApiKey.objects.get()
    assert _run("revoke", api_key.prefix)[0].startswith(f"Revoked {api_key.prefix}")
    assert_error(admin("get", "/users", key=secret), 401, "api_key_revoked")
    assert "already revoked" in _run("revoke", str(api_key.pk))[0]
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.actor_type == "system" and event.subject_id == owner.pk


@pytest.mark.parametrize(
    "args",
    [
        ("create", "--owner", "nobody@example.com", "--name", "k", "--scope", "users:read"),
        ("create", "--owner", "staff@example.com", "--name", "k", "--scope", "users:read"),
        ("create", "--owner", "root@example.com", "--name", " ", "--scope", "users:read"),
        (
            "create",
            "--owner",
            "root@example.com",
            "--name",
            "k",
            "--scope",
            "users:read",
            "--expires-days",
            "0",
        ),
        (
            "create",
            "--owner",
            "root@example.com",
            "--name",
            "k",
            "--scope",
            "users:read",
            "--expires-days",
            "400",
        ),
        ("revoke", "cus_nothere"),
        ("revoke", "cus_abcdefgh_" + "A" * 43),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(
    owner: User, make_user: Callable[..., User], args: tuple[str, ...]
) -> None:
    make_user(email="staff@example.com", is_staff=True)
    with pytest.raises(CommandError) as refused:
        _run(*args)
    assert "A" * 43 not in str(refused.value)
    assert (
        not ApiKey.objects.exists() and not AuditEvent.objects.filter(action__startswith="api_key.").exists()
    )


@pytest.mark.parametrize(
    "args",
    [
        ("create", "--owner", "root@example.com", "--name", "k", "--scope", "users:write"),
        ("create", "--owner", "root@example.com", "--name", "k"),
        ("frobnicate",),
    ],
)
def test_arguments_the_parser_refuses(owner: User, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        _run(*args)
    assert not ApiKey.objects.exists()
