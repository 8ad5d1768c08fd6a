"""Every door that takes a password — the API login, the console and admin logins, and each
re-authentication — goes through the one credential check: live users only, one lockout counter, one audit
vocabulary. Driven through the real forms and endpoints (CSRF enforced on the staff doors)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.accounts import test_social_support as fake
from tests.conftest import PASSWORD, actions, assert_error

WRONG = "not-the-password-0"
LOGIN_PAGES = {"console": "/console/login/", "admin": "/admin/login/"}
# Where each door sends a signed-in staff member, and where it sends everyone else.
HOME = {"console": "/console/", "admin": "/admin/"}

social_apps, rsps = fake.social_apps, fake.rsps


def staff_login(door: str, login: str, password: str, client: Client | None = None) -> Any:
    """Post the door's login form as a browser would: the page first (for the CSRF cookie), then the form."""
    client = client or Client(enforce_csrf_checks=True)
    page = client.get(LOGIN_PAGES[door])
    assert page.status_code == 200
    response = client.post(
        LOGIN_PAGES[door],
        {
            "username": login,
            "password": password,
            "next": HOME[door],
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    response.client = client
    return response


def signed_in(response: Any, door: str) -> bool:
    if response.status_code == 302:
        assert response["Location"] == HOME[door]
        return True
    assert response.status_code == 200, response.status_code
    assert b"errors" in response.content or b"errornote" in response.content
    return False


def reaches_home(client: Client, door: str) -> bool:
    response = client.get(HOME[door])
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN_PAGES[door])
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def staff(make_user):
    return make_user(email="staff@example.com", is_staff=True, is_superuser=True, first_name="Sam")


@pytest.fixture
def boss(make_user):
    return make_user(email="boss@example.com", is_staff=True, is_superuser=True)


def api_login(api, login="staff@example.com", password=PASSWORD):
    return api.post_json("/auth/token", {"login": login, "password": password})


def wrong_at(door: str, api, token: str) -> None:
    """One wrong password through `door`, with its door's answer checked."""
    me = "staff@example.com"
    if door in LOGIN_PAGES:
        assert not signed_in(staff_login(door, me, WRONG), door)
    elif door == "api_login":
        assert_error(api_login(api, password=WRONG), 401, "invalid_credentials")
    elif door == "delete_me":
        assert_error(api.call("delete", "/me", {"password": WRONG}, token=token), 400, "wrong_password")
    elif door == "password_change":
        body = {"current_password": WRONG, "new_password": "a-new-long-passphrase-7"}
        assert_error(api.call("post", "/me/password", body, token=token), 400, "wrong_password")
    elif door == "email_change":
        body = {"new_email": "new@example.com", "password": WRONG}
        assert_error(api.call("post", "/me/email", body, token=token), 400, "wrong_password")
    elif door == "social_link":
        body = {"access_token": "gho_valid", "password": WRONG}
        assert_error(
            api.call("post", "/me/social-accounts/github/link", body, token=token), 400, "wrong_password"
        )
    else:
        raise AssertionError(door)


# --- who may sign in ------------------------------------------------------------------------------------


def _delete_through_the_api(api, user: User, boss: User) -> None:
    token = api_login(api, login=user.email)
    response = api.call("delete", "/me", {"password": PASSWORD}, token=token.json()["access"])
    assert response.status_code == 202, response.content


def _deactivate_in_the_console(api, user: User, boss: User) -> None:
    client = Client()
    client.force_login(boss)
    response = client.post(f"/console/users/{user.pk}/deactivate/", {"reason": "left"})
    assert response.status_code == 302


ENDINGS = {"soft_deleted": _delete_through_the_api, "deactivated": _deactivate_in_the_console}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("door", LOGIN_PAGES)
def test_a_deleted_or_deactivated_staff_member_cannot_sign_in(api, staff, boss, door, ending):
    ENDINGS[ending](api, staff, boss)

    response = staff_login(door, "staff@example.com", PASSWORD)

    assert not signed_in(response, door)
    assert not reaches_home(response.client, door)
    failed = AuditEvent.objects.filter(action="auth.login_failed").latest("id")
    reason = "unknown_login" if ending == "soft_deleted" else "inactive"
    assert failed.details == {"reason": reason, "door": door}
    assert not AuditEvent.objects.filter(action="auth.login", details__door=door).exists()


@pytest.mark.parametrize("ending", ENDINGS)
def test_open_console_and_admin_sessions_end_on_the_next_request(api, staff, boss, ending):
    console = staff_login("console", "staff@example.com", PASSWORD).client
    admin = staff_login("admin", "staff@example.com", PASSWORD).client
    assert reaches_home(console, "console") and reaches_home(admin, "admin")

    ENDINGS[ending](api, staff, boss)

    assert not reaches_home(console, "console")
    assert not reaches_home(admin, "admin")
    assert admin.get(f"/admin/accounts/user/{boss.pk}/change/").status_code == 302


@pytest.mark.parametrize("door", LOGIN_PAGES)
def test_staff_doors_sign_in_staff_and_audit_it(staff, door):
    response = staff_login(door, "STAFF@example.com", PASSWORD)

    assert signed_in(response, door) and reaches_home(response.client, door)
    event = AuditEvent.objects.get(action="auth.login")
    assert (event.actor_id, event.subject_id, event.details) == (
        staff.pk,
        staff.pk,
        {"door": door, "amr": ["pwd"]},
    )
    assert not Session.objects.exists()  # a Django session, not a token session

    logout = "/console/logout/" if door == "console" else "/admin/logout/"
    token = response.client.cookies["csrftoken"].value
    assert response.client.post(logout, {"csrfmiddlewaretoken": token}).status_code in (200, 302)
    assert not reaches_home(response.client, door)
    event = AuditEvent.objects.get(action="auth.logout")
    assert (event.actor_id, event.details) == (staff.pk, {"door": door})


@pytest.mark.parametrize("door", LOGIN_PAGES)
def test_staff_doors_refuse_non_staff_like_a_wrong_password(make_user, door):
    plain = make_user(email="plain@example.com")

    response = staff_login(door, "plain@example.com", PASSWORD)
    wrong = staff_login(door, "plain@example.com", WRONG)

    assert not signed_in(response, door) and not signed_in(wrong, door)
    # The same page either way: the doors do not confirm a password of a non-staff account.
    assert response.context["form"].errors == wrong.context["form"].errors
    failed = AuditEvent.objects.filter(action="auth.login_failed", subject_id=plain.pk).order_by("id")
    assert [e.details for e in failed] == [
        {"reason": "not_staff", "door": door},
        {"reason": "wrong_password", "door": door},
    ]


@pytest.mark.parametrize("door", LOGIN_PAGES)
def test_staff_door_logins_need_the_csrf_token(staff, door):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN_PAGES[door], {"username": "staff@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert not reaches_home(client, door)
    assert not AuditEvent.objects.filter(action__startswith="auth.").exists()


# --- one lockout ----------------------------------------------------------------------------------------

DOORS = [
    "api_login",
    "console",
    "admin",
    "delete_me",
    "password_change",
    "email_change",
    "social_link",
]


@pytest.mark.parametrize("door", DOORS)
def test_a_wrong_password_at_any_door_counts_toward_the_one_lockout(
    api, staff, settings, door, social_apps, rsps
):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    token = api_login(api).json()["access"]

    wrong_at(door, api, token)
    wrong_at("api_login", api, token)  # the second failure, at another door, locks the account

    assert_error(api_login(api), 429, "locked")
    assert actions(action="auth.locked") == ["auth.locked"]
    assert len(rsps.calls) == 0  # the social link was refused before asking the provider


def test_failures_at_five_doors_lock_every_door(api, staff, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 5
    token = api_login(api).json()["access"]

    for door in ("console", "console", "admin", "admin", "delete_me"):
        wrong_at(door, api, token)

    body = assert_error(api_login(api), 429, "locked")
    assert 0 < body["details"]["retry_after"] <= settings.LOGIN_LOCKOUT_SECONDS
    for door in LOGIN_PAGES:
        response = staff_login(door, "staff@example.com", PASSWORD)
        assert not signed_in(response, door)
        assert b"Too many failed attempts for this account" in response.content
        assert not reaches_home(response.client, door)
    # Re-authentication is locked too, and the account is still there.
    assert_error(api.call("delete", "/me", {"password": PASSWORD}, token=token), 429, "locked")
    assert User.objects.get(pk=staff.pk).deleted_at is None
    failures = AuditEvent.objects.filter(action__in=["auth.login_failed", "auth.reauth_failed"]).order_by(
        "id"
    )
    assert [
        (e.action, e.details.get("door") or e.details.get("purpose"), e.details["reason"]) for e in failures
    ] == [
        ("auth.login_failed", "console", "wrong_password"),
        ("auth.login_failed", "console", "wrong_password"),
        ("auth.login_failed", "admin", "wrong_password"),
        ("auth.login_failed", "admin", "wrong_password"),
        ("auth.reauth_failed", "account_delete", "wrong_password"),
        ("auth.login_failed", "api", "locked"),
        ("auth.login_failed", "console", "locked"),
        ("auth.login_failed", "admin", "locked"),
        ("auth.reauth_failed", "account_delete", "locked"),
    ]
    assert actions(action="auth.locked") == ["auth.locked"]


def test_a_staff_door_success_resets_the_count(api, staff, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    wrong_at("api_login", api, "")
    assert signed_in(staff_login("admin", "staff@example.com", PASSWORD), "admin")
    wrong_at("console", api, "")
    assert api_login(api).status_code == 200


# --- per-IP limit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("door", LOGIN_PAGES)
def test_staff_door_logins_share_the_per_ip_login_limit(api, staff, settings, door):
    # Windows are aligned to the clock; an hour-long one keeps the test off a window edge.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/hour"}
    # Different unknown logins: no account gets near its lockout, only the address counts.
    for n in range(2):
        assert not signed_in(staff_login(door, f"nobody{n}@example.com", WRONG), door)
    assert api_login(api, login="nobody9@example.com").status_code == 401

    response = staff_login(door, "staff@example.com", PASSWORD)

    assert not signed_in(response, door)
    assert b"Too many sign-in attempts from your network" in response.content
    assert not reaches_home(response.client, door)
    assert_error(api_login(api), 429, "rate_limited")
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_admin_login_failures_are_audited_with_the_door(staff):
    staff_login("admin", "staff@example.com", WRONG)
    staff_login("admin", "ghost@example.com", WRONG)

    failed = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
    assert [(e.subject_id, e.details) for e in failed] == [
        (staff.pk, {"reason": "wrong_password", "door": "admin"}),
        (None, {"reason": "unknown_login", "door": "admin"}),
    ]
    # The typed login is not kept: it is often a password typed into the wrong field.
    assert all("ghost" not in str(e.details) for e in failed)
