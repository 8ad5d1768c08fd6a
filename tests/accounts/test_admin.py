"""The admin edits users only through the accounts services: a password set ends the user's sessions and is
audited with the staff member as actor; activation and staff access go through their services; what the
other flows own (e-mail, names, deletion, verification, sign-up) is read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, actions, assert_error, outbox_to

NEW_PASSWORD = "a-new-long-passphrase-7"
# The admin's "change password" form, "Change password" pressed.
SET = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true", "set-password": "1"}


@pytest.fixture
def boss(make_user):
    return make_user(email="boss@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(boss):
    client = Client()
    client.force_login(boss)
    return client


def password_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/password/"


def change_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def change_form(user: User, **fields: object) -> dict[str, object]:
    """The admin's change form as the page posts it (checkboxes present only when ticked)."""
    data: dict[str, object] = {
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "1",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-user": str(user.pk),
        "groups": [],
        "user_permissions": [],
        "_save": "Save",
    }
    flags = {"is_active": user.is_active, "is_staff": user.is_staff, "is_superuser": user.is_superuser}
    flags.update({k: v for k, v in fields.items() if k in flags})
    data.update({k: "on" for k, v in flags.items() if v})
    data.update({k: v for k, v in fields.items() if k not in flags})
    return data


# --- password set ---------------------------------------------------------------------------------------


def test_a_password_set_in_the_admin_ends_every_session_and_is_audited(
    api, admin_client, boss, user, login, django_capture_on_commit_callbacks
):
    tokens = [login()["access"], login()["access"]]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(password_url(user), SET)

    assert response.status_code == 302 and response["Location"] == change_url(user)
    for token in tokens:
        assert_error(api.call("get", "/me", token=token), 401, "session_revoked")
    assert set(Session.objects.values_list("revoke_reason", flat=True)) == {"password_set_by_staff"}
    event = AuditEvent.objects.get(action="user.password_set")
    assert (event.actor_id, event.subject_id) == (boss.pk, user.pk)
    assert event.actor_type == "staff"
    assert event.details == {"sessions_ended": 2, "usable": True}
    revoked = AuditEvent.objects.get(action="session.revoked_all")
    assert revoked.actor_id == boss.pk and revoked.details["reason"] == "password_set_by_staff"
    [alert] = outbox_to(user.email)
    assert alert.subject == "Security alert: your password was changed"
    assert "set by our staff" in alert.body and " from 127.0.0.1" not in alert.body
    # The new password works at once, the old one no more.
    assert api.post_json("/auth/token", {"login": user.email, "password": NEW_PASSWORD}).status_code == 200
    assert_error(api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}), 401)


def test_a_password_set_lifts_a_lockout(api, admin_client, user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 1
    api.post_json("/auth/token", {"login": user.email, "password": "not-the-password-0"})
    assert_error(api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}), 429, "locked")

    assert admin_client.post(password_url(user), SET).status_code == 302

    assert api.post_json("/auth/token", {"login": user.email, "password": NEW_PASSWORD}).status_code == 200


def test_disabling_password_login_in_the_admin_goes_through_the_same_service(
    api, admin_client, boss, user, login, django_capture_on_commit_callbacks
):
    token = login()["access"]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(password_url(user), {"usable_password": "false", "unset-password": "1"})

    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert_error(api.call("get", "/me", token=token), 401, "session_revoked")
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.actor_id == boss.pk and event.details == {"sessions_ended": 1, "usable": False}
    assert "Password login for your account was turned off" in outbox_to(user.email)[0].body


@pytest.mark.parametrize(
    "data",
    [
        {"password1": "short", "password2": "short", "usable_password": "true", "set-password": "1"},
        {
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD + "x",
            "usable_password": "true",
            "set-password": "1",
        },
        {"password1": "", "password2": "", "usable_password": "true", "set-password": "1"},
        {"password1": "x" * 200, "password2": "x" * 200, "usable_password": "true", "set-password": "1"},
    ],
)
def test_a_refused_password_set_changes_nothing(api, admin_client, user, login, data):
    token = login()["access"]
    before = User.objects.get(pk=user.pk).password

    response = admin_client.post(password_url(user), data)

    assert response.status_code == 200 and b"errorlist" in response.content
    assert User.objects.get(pk=user.pk).password == before
    assert api.call("get", "/me", token=token).status_code == 200
    assert not AuditEvent.objects.filter(action__in=["user.password_set", "session.revoked_all"]).exists()
    assert outbox_to(user.email) == []


def test_own_password_change_in_the_admin_re_authenticates_through_the_one_check(api, boss, settings, login):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    token = login(login="boss@example.com")["access"]
    admin = Client()
    admin.force_login(boss)
    url = "/admin/password_change/"
    wrong = {
        "old_password": "not-the-password-0",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }

    response = admin.post(url, wrong)

    assert response.status_code == 200 and b"errorlist" in response.content
    assert User.objects.get(pk=boss.pk).check_password(PASSWORD)
    event = AuditEvent.objects.get(action="auth.reauth_failed")
    assert event.details == {"reason": "wrong_password", "purpose": "password_change"}

    response = admin.post(url, {**wrong, "old_password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/admin/password_change/done/"
    assert User.objects.get(pk=boss.pk).check_password(NEW_PASSWORD)
    assert_error(api.call("get", "/me", token=token), 401, "session_revoked")
    assert Session.objects.get().revoke_reason == "password_changed"
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.actor_id == boss.pk and event.subject_id == boss.pk
    assert admin.get("/admin/").status_code == 200  # the admin session that changed it stays


def test_own_password_change_in_the_admin_is_refused_while_locked(api, boss, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 1
    api.post_json("/auth/token", {"login": "boss@example.com", "password": "not-the-password-0"})
    admin = Client()
    admin.force_login(boss)

    response = admin.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200 and b"Too many failed attempts for this account" in response.content
    assert User.objects.get(pk=boss.pk).check_password(PASSWORD)


# --- other edits ----------------------------------------------------------------------------------------


def test_deactivating_in_the_admin_goes_through_the_service(api, admin_client, boss, user, login):
    token = login()["access"]

    response = admin_client.post(change_url(user), change_form(user, is_active=False))

    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert not user.is_active
    assert_error(api.call("get", "/me", token=token), 401, "session_revoked")
    assert Session.objects.get().revoke_reason == "deactivated"
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.actor_id == boss.pk and event.subject_id == user.pk

    response = admin_client.post(change_url(user), change_form(user, is_active=True))

    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).is_active
    assert AuditEvent.objects.get(action="user.reactivated").actor_id == boss.pk


def test_staff_access_edits_are_audited(admin_client, boss, user):
    support = Group.objects.create(name="support")

    response = admin_client.post(change_url(user), change_form(user, is_staff=True, groups=[support.pk]))

    assert response.status_code == 302, response.content
    user.refresh_from_db()
    assert user.is_staff and list(user.groups.all()) == [support]
    event = AuditEvent.objects.get(action="user.access_changed")
    assert (event.actor_id, event.subject_id) == (boss.pk, user.pk)
    assert event.details == {
        "fields": ["is_staff", "groups"],
        "is_staff": True,
        "is_superuser": False,
        "groups": ["support"],
        "user_permissions": [],
    }
    # Saving again without a change writes nothing.
    admin_client.post(change_url(user), change_form(user, groups=[support.pk]))
    assert actions(action="user.access_changed") == ["user.access_changed"]


def test_fields_other_flows_own_are_read_only(admin_client, user):
    before = User.objects.filter(pk=user.pk).values().get()

    response = admin_client.post(
        change_url(user),
        change_form(
            user,
            email="other@example.com",
            username="renamed",
            first_name="Eve",
            deleted_at="2026-01-01 00:00:00",
            email_verified_at="",
            password="md5$plain$hash",
            **{"profile-0-bio": "rewritten"},
        ),
    )

    assert response.status_code == 302
    assert User.objects.filter(pk=user.pk).values().get() == before
    assert user.profile.bio == ""
    assert not AuditEvent.objects.exists()


def test_staff_cannot_deactivate_themselves_in_the_admin(admin_client, boss):
    page = admin_client.get(change_url(boss))
    assert b'name="is_active"' not in page.content

    response = admin_client.post(change_url(boss), change_form(boss, is_active=False))

    assert response.status_code == 302
    assert User.objects.get(pk=boss.pk).is_active
    assert not AuditEvent.objects.filter(action="user.deactivated").exists()


def test_users_are_neither_added_nor_deleted_in_the_admin(admin_client, user):
    assert admin_client.get("/admin/accounts/user/add/").status_code == 403
    assert admin_client.post("/admin/accounts/user/add/", {"email": "new@example.com"}).status_code == 403
    assert admin_client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}).status_code == 403
    assert User.objects.count() == 2


def test_a_deactivated_admins_session_ends_with_the_next_request(admin_client, boss, make_user):
    other = make_user(email="other-boss@example.com", is_staff=True, is_superuser=True)
    other_client = Client()
    other_client.force_login(other)

    other_client.post(change_url(boss), change_form(boss, is_active=False))

    response = admin_client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_linked_identities_are_read_only_in_the_admin(admin_client, user):
    from allauth.socialaccount.models import SocialAccount

    account = SocialAccount.objects.create(user=user, provider="github", uid="4242")
    url = f"/admin/socialaccount/socialaccount/{account.pk}/"

    assert admin_client.get(f"{url}change/").status_code == 200  # visible
    assert admin_client.post(f"{url}change/", {"uid": "1", "provider": "github"}).status_code == 403
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/socialaccount/socialaccount/add/").status_code == 403
    assert SocialAccount.objects.get().uid == "4242"


def test_only_superusers_change_staff_access(api, make_user, user, login):
    from django.contrib.auth.models import Permission

    clerk = make_user(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "deactivate_user"])
    )
    client = Client()
    client.force_login(clerk)
    page = client.get(change_url(clerk))
    assert page.status_code == 200 and b'name="is_superuser"' not in page.content

    response = client.post(
        change_url(clerk), change_form(clerk, is_superuser=True, user_permissions=[1, 2, 3])
    )

    assert response.status_code == 302
    clerk = User.objects.get(pk=clerk.pk)
    assert not clerk.is_superuser and clerk.user_permissions.count() == 3
    assert not AuditEvent.objects.filter(action="user.access_changed").exists()
    # Activation is theirs to change (through its service).
    token = login()["access"]
    assert client.post(change_url(user), change_form(user, is_active=False)).status_code == 302
    assert_error(api.call("get", "/me", token=token), 401, "session_revoked")
    assert AuditEvent.objects.get(action="user.deactivated").actor_id == clerk.pk
    # Nor may they set a staff account's password (a takeover); a plain user's goes through the service.
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    assert client.post(password_url(boss), SET).status_code == 403
    assert User.objects.get(pk=boss.pk).check_password(PASSWORD)
    assert client.post(password_url(user), SET).status_code == 302
    assert AuditEvent.objects.get(action="user.password_set").actor_id == clerk.pk


def test_the_rank_rule_holds_in_the_admin(make_user, user):
    from django.contrib.auth.models import Permission

    clerk = make_user(email="clerk@example.com", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    holder = make_user(email="holder@example.com")  # not staff, but holds a right the clerk lacks
    holder.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    client = Client()
    client.force_login(clerk)

    # An account holding a permission the clerk lacks is view-only, its password theirs to keep.
    page = client.get(change_url(holder))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(change_url(holder), change_form(holder, is_active=False)).status_code == 403
    assert client.post(password_url(holder), SET).status_code == 403
    holder = User.objects.get(pk=holder.pk)
    assert holder.is_active and holder.check_password(PASSWORD)

    # Without accounts.deactivate_user, activation is read-only even on a plain user's page.
    page = client.get(change_url(user))
    assert b'name="_save"' in page.content and b'name="is_active"' not in page.content
    assert client.post(change_url(user), change_form(user, is_active=False)).status_code == 302
    assert User.objects.get(pk=user.pk).is_active
    assert not AuditEvent.objects.filter(action__in=["user.deactivated", "staff.action_refused"]).exists()
