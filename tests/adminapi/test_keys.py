"""API keys: what is stored, how they authenticate (401 for keys that do not work, in the error schema), the
owner rule, last use at most once a minute, and the audit of creation and revocation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from adminapi import errors, keys, scopes, services
from adminapi.models import ApiKey
from audit.models import AuditEvent
from tests.conftest import assert_error


def test_only_the_hash_is_stored_and_the_prefix_is_public(make_key: Any, owner: User) -> None:
    created = make_key(scopes=[scopes.GDPR_EXPORT, scopes.USERS_READ, scopes.USERS_READ])
    secret, api_key = created.secret, ApiKey.objects.get()
    assert keys.KEY_PATTERN.fullmatch(secret)
    assert secret.startswith(api_key.prefix + "_") and len(api_key.prefix) == 12
    assert api_key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    # 43 URL-safe base64 characters after the prefix: 256 random bits.
    assert len(secret.split("_", 2)[2]) == 43
    stored = [str(v) for v in ApiKey.objects.values().get().values()]
    assert not any(secret in value or secret[13:] in value for value in stored)
    # Scopes without duplicates, in registry order.
    assert api_key.scopes == [scopes.USERS_READ, scopes.GDPR_EXPORT]
    assert api_key.owner == owner and api_key.last_used_at is None and api_key.status == "active"


def test_creation_and_revocation_are_audited_without_the_key(make_key: Any, owner: User) -> None:
    created = make_key(name="billing sync")
    event = AuditEvent.objects.get(action="api_key.created")
    assert (event.actor_id, event.subject_id) == (owner.pk, owner.pk)
    assert event.details["api_key_id"] == str(created.api_key.pk)
    assert event.details["api_key_prefix"] == created.api_key.prefix
    assert event.details["name"] == "billing sync" and event.details["scopes"] == list(scopes.SCOPES)
    services.api_key_revoke(api_key=created.api_key, actor=owner)
    services.api_key_revoke(api_key=created.api_key, actor=owner)  # idempotent, audited once
    revoked = AuditEvent.objects.get(action="api_key.revoked")
    assert revoked.details == {
        "api_key_id": str(created.api_key.pk),
        "api_key_prefix": created.api_key.prefix,
    }
    for event in AuditEvent.objects.all():
        assert created.secret[13:] not in str(event.details)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["users:read", "users:write"]}, "scopes"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"expires_at": timedelta(seconds=-1)}, "expires_at"),
        ({"expires_at": timedelta(days=366)}, "expires_at"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(owner: User, changes: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"name": "ok", "scopes": ["users:read"], "expires_at": timedelta(days=30)}
    arguments.update(changes)
    arguments["expires_at"] = timezone.now() + arguments["expires_at"]
    with pytest.raises(errors.ValidationFailed) as refused:
        services.api_key_create(owner=owner, actor=owner, **arguments)
    assert list(refused.value.details["fields"]) == [field]
    assert not ApiKey.objects.exists() and not AuditEvent.objects.filter(action="api_key.created").exists()


def test_only_an_active_superuser_owns_keys_and_only_for_themselves(
    make_user: Callable[..., User], owner: User
) -> None:
    staff = make_user(email="staff@example.com", is_staff=True)
    other_root = make_user(email="root2@example.com", is_staff=True, is_superuser=True)
    expires = timezone.now() + timedelta(days=1)
    for holder, actor in ((staff, staff), (staff, None), (other_root, owner)):
        with pytest.raises(errors.KeyOwnerRequired):
            services.api_key_create(
                owner=holder, actor=actor, name="k", scopes=["users:read"], expires_at=expires
            )
    services.api_key_create(owner=other_root, actor=None, name="k", scopes=["users:read"], expires_at=expires)
    api_key = ApiKey.objects.get()
    with pytest.raises(errors.KeyOwnerRequired):
        services.api_key_revoke(api_key=api_key, actor=staff)
    # Any superuser may revoke any key (one who leaves must not leave keys nobody can stop).
    services.api_key_revoke(api_key=api_key, actor=owner)
    assert ApiKey.objects.get().revoked_at is not None


# --- authentication ---------------------------------------------------------------------------------------


def test_a_working_key_authenticates(admin: Any, key: str) -> None:
    response = admin("get", "/users", key=key)
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


def test_no_key_is_401_not_authenticated(admin: Any, key: str) -> None:
    response = admin("get", "/users", key=None)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    # The key in another scheme, or without one, is not read (and not logged either).
    for header in (key, f"Basic {key}", f"Token {key}", "Bearer ", "Bearer"):
        assert_error(
            admin("get", "/users", key=None, headers={"Authorization": header}), 401, "not_authenticated"
        )


@pytest.mark.parametrize(
    "token",
    [
        "cus_abcdefgh_" + "A" * 43,  # well-formed, unknown
        "cus_abcdefgh",  # the prefix alone
        "cus_ABCDEFGH_" + "A" * 43,
        "cus_abcdefgh_" + "A" * 42,
        "cus_abcdefgh_" + "A" * 44,
        "x" * 5000,
        "cus_abcdefgh_" + "A" * 42 + "\u00e9",
    ],
)
def test_a_key_that_is_not_one_is_401_api_key_invalid(admin: Any, key: str, token: str) -> None:
    assert_error(admin("get", "/users", key=token), 401, "api_key_invalid")


def test_a_revoked_key_is_401_on_the_next_request(admin: Any, make_key: Any, owner: User) -> None:
    created = make_key()
    assert admin("get", "/users", key=created.secret).status_code == 200
    services.api_key_revoke(api_key=created.api_key, actor=owner)
    assert_error(admin("get", "/users", key=created.secret), 401, "api_key_revoked")


def test_an_expired_key_is_401(admin: Any, make_key: Any) -> None:
    created = make_key(days=1)
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert_error(admin("get", "/users", key=created.secret), 401, "api_key_expired")
    assert created.api_key.status_at(timezone.now() + timedelta(days=2)) == "expired"


@pytest.mark.parametrize(
    "change",
    [
        {"is_superuser": False},
        {"is_active": False},
        {"deleted_at": "now"},
    ],
)
def test_a_key_stops_working_while_its_owner_is_no_longer_an_active_superuser(
    admin: Any, key: str, owner: User, change: dict[str, Any]
) -> None:
    for field, value in change.items():
        setattr(owner, field, timezone.now() if value == "now" else value)
    owner.save()
    body = assert_error(admin("get", "/users", key=key), 401, "api_key_revoked")
    assert "owner" in body["message"]
    assert ApiKey.objects.get().status == "suspended"


def test_keys_and_access_tokens_are_not_interchangeable(
    admin: Any, api: Any, key: str, login: Callable[..., dict[str, Any]]
) -> None:
    access = login("root@example.com")["access"]
    assert_error(admin("get", "/users", key=access), 401, "api_key_invalid")
    assert_error(api.call("get", "/me", token=key), 401, "token_invalid")


def test_last_use_is_written_at_most_once_a_minute(admin: Any, make_key: Any) -> None:
    created = make_key()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert admin("get", "/users", key=created.secret).status_code == 200
    assert ApiKey.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert admin("get", "/users", key=created.secret).status_code == 200
    assert ApiKey.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert admin("get", "/users", key=created.secret).status_code == 200
    assert ApiKey.objects.get().last_used_at == start + timedelta(seconds=61)


def test_a_use_without_the_scope_is_a_use(admin: Any, make_key: Any) -> None:
    created = make_key(scopes=[scopes.USERS_LOGOUT])
    assert_error(admin("get", "/users", key=created.secret), 403, "insufficient_scope")
    assert ApiKey.objects.get().last_used_at is not None


def test_authentication_costs_one_query_and_a_write_a_minute(
    admin: Any, key: str, django_assert_max_num_queries: Any
) -> None:
    admin("get", "/users/00000000-0000-0000-0000-000000000000", key=key)  # touches
    with django_assert_max_num_queries(2):  # the key with its owner; the user lookup
        assert_error(admin("get", "/users/00000000-0000-0000-0000-000000000000", key=key), 404, "not_found")
