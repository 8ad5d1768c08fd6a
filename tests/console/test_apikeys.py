"""The API keys page: superusers list, create (the key shown once) and revoke keys; every change audited;
bad input stores nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from adminapi import keys, services
from adminapi.models import ApiKey
from audit.models import AuditEvent
from tests.conftest import assert_error
from tests.console.conftest import client_for, htmx

NEW_KEY = re.compile(r'<code id="new-key" class="kv">([^<]+)</code>')


@pytest.fixture
def root(make_user: Callable[..., User]) -> User:
    return make_user(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def root_client(root: User) -> Client:
    return client_for(root)


def _create(client: Client, **data: Any) -> Any:
    form = {"name": "billing sync", "scopes": ["users:read", "gdpr:export"], "expires_in_days": "30", **data}
    return client.post("/console/api-keys/", form, headers=htmx("keys"))


def test_create_shows_the_key_once_and_it_works(root: User, root_client: Client, api: Any) -> None:
    response = _create(root_client)
    assert response.status_code == 201
    body = response.content.decode()
    assert body.strip().startswith('<div id="keys">')
    [secret] = NEW_KEY.findall(body)
    assert keys.KEY_PATTERN.fullmatch(secret)
    api_key = ApiKey.objects.get()
    assert api_key.owner == root and api_key.scopes == ["users:read", "gdpr:export"]
    assert api_key.key_hash == keys.key_hash(secret)
    assert timedelta(days=29) < api_key.expires_at - timezone.now() <= timedelta(days=30)
    event = AuditEvent.objects.get(action="api_key.created")
    assert event.actor_id == root.pk and event.details["api_key_prefix"] == api_key.prefix
    # Never again: the list shows the prefix only.
    page = root_client.get("/console/api-keys/").content.decode()
    assert api_key.prefix in page and secret not in page and secret.split("_", 2)[2] not in page
    assert api.call("get", "/admin/users", token=secret).status_code == 200
    # A plain (non-htmx) POST gets the whole page, with the key, not a redirect that would need to keep it.
    plain = root_client.post(
        "/console/api-keys/", {"name": "second", "scopes": ["users:read"], "expires_in_days": "1"}
    )
    assert (
        plain.status_code == 201
        and b"<html" in plain.content
        and len(NEW_KEY.findall(plain.content.decode())) == 1
    )


def test_the_list_shows_prefix_scopes_owner_dates_and_status(root: User, root_client: Client) -> None:
    now = timezone.now()
    live = services.api_key_create(
        owner=root, actor=root, name="live one", scopes=["users:read"], expires_at=now + timedelta(days=5)
    )
    gone = services.api_key_create(
        owner=root, actor=root, name="gone one", scopes=["users:logout"], expires_at=now + timedelta(days=5)
    )
    services.api_key_revoke(api_key=gone.api_key, actor=root)
    ApiKey.objects.filter(pk=live.api_key.pk).update(last_used_at=now)
    page = root_client.get("/console/api-keys/")
    assert page.status_code == 200
    text = page.content.decode()
    for expected in (
        live.api_key.prefix,
        gone.api_key.prefix,
        "live one",
        "users:read",
        "users:logout",
        "root@example.com",
        f"{now:%Y-%m-%d %H:%M}",
        "never",
    ):
        assert expected in text, expected
    assert text.count(">Revoke</button>") == 1  # only the live key has the button
    assert '<span class="badge ok">active</span>' in text and '<span class="badge bad">revoked</span>' in text
    partial = root_client.get("/console/api-keys/", headers=htmx("keys"))
    assert partial.content.decode().strip().startswith('<div id="keys">')
    assert_page = root_client.get("/console/api-keys/?page=0")
    assert assert_page.status_code == 400


def test_revoke(root: User, root_client: Client, api: Any, make_user: Callable[..., User]) -> None:
    other_root = make_user(email="root2@example.com", is_staff=True, is_superuser=True)
    created = services.api_key_create(
        owner=other_root,
        actor=other_root,
        name="theirs",
        scopes=["users:read"],
        expires_at=timezone.now() + timedelta(days=1),
    )
    response = root_client.post(f"/console/api-keys/{created.api_key.pk}/revoke/", headers=htmx("keys"))
    assert response.status_code == 200 and b"is revoked" in response.content
    assert ApiKey.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.actor_id == root.pk and event.subject_id == other_root.pk
    assert_error(api.call("get", "/admin/users", token=created.secret), 401, "api_key_revoked")
    # Again: nothing changes, nothing more is audited; a plain POST redirects.
    again = root_client.post(f"/console/api-keys/{created.api_key.pk}/revoke/")
    assert again.status_code == 302 and again["Location"] == "/console/api-keys/"
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1
    assert root_client.post(f"/console/api-keys/{created.api_key.pk.hex[:8]}/revoke/").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"scopes": []},
        {"scopes": ["users:read", "users:write"]},
        {"expires_in_days": "0"},
        {"expires_in_days": "366"},
        {"expires_in_days": "soon"},
    ],
)
def test_bad_input_stores_nothing(root_client: Client, data: dict[str, Any]) -> None:
    response = _create(root_client, **data)
    assert response.status_code == 400
    assert b"Please correct the input." in response.content and not NEW_KEY.search(response.content.decode())
    assert (
        not ApiKey.objects.exists() and not AuditEvent.objects.filter(action__startswith="api_key.").exists()
    )


def test_staff_who_are_not_superusers_see_no_keys_and_change_nothing(
    root: User, make_user: Callable[..., User]
) -> None:
    created = services.api_key_create(
        owner=root, actor=root, name="k", scopes=["users:read"], expires_at=timezone.now() + timedelta(days=1)
    )
    staff = client_for(make_user(email="staff@example.com", is_staff=True))
    assert staff.get("/console/api-keys/").status_code == 403
    assert _create(staff).status_code == 403
    assert staff.post(f"/console/api-keys/{created.api_key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None
    assert b"API keys</a>" not in staff.get("/console/users/").content


def test_the_audit_log_names_the_key(
    root: User, root_client: Client, api: Any, make_user: Callable[..., User]
) -> None:
    target = make_user(email="target@example.com")
    created = services.api_key_create(
        owner=root,
        actor=root,
        name="k",
        scopes=["users:logout"],
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert api.call("post", f"/admin/users/{target.pk}/logout", token=created.secret).status_code == 200
    for url in ("/console/audit/", f"/console/users/{target.pk}/"):
        text = root_client.get(url).content.decode()
        assert f'api_key <span class="kv">{created.api_key.prefix}</span>' in text, url


def test_create_without_csrf_token_is_refused(root: User) -> None:
    client = client_for(root, enforce_csrf_checks=True)
    response = _create(client)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert not ApiKey.objects.exists()
