"""Linking rules: e-mail conflicts, linking while logged in, soft-deleted owners, listing and unlinking."""

from __future__ import annotations

from datetime import timedelta

import requests
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from accounts.models import Session, User
from accounts.social import selectors
from audit.models import AuditEvent
from tests.accounts import test_social_support as fake
from tests.accounts.test_social_support import (
    GITHUB_USER_URL,
    github_app_token,
    github_user,
    google_id_token,
)
from tests.conftest import PASSWORD, actions, assert_error, outbox_to

social_apps, rsps, google = fake.social_apps, fake.rsps, fake.google


def _google_login(api, **claims):
    return api.post_json("/auth/social/google", {"id_token": google_id_token(**claims)})


# --- e-mail of an existing account ----------------------------------------------------------------------


def test_provider_email_of_an_existing_account_is_409_and_links_nothing(api, google, make_user):
    ada = make_user(email="Ada@Example.com")

    r = _google_login(api, email="ada@example.com")

    assert_error(r, 409, "email_conflict")
    assert SocialAccount.objects.count() == 0
    assert not Session.objects.exists()
    assert User.objects.count() == 1
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.subject_id == ada.pk and event.details == {
        "reason": "social_email_conflict",
        "via": "google",
    }


def test_unverified_existing_account_also_conflicts(api, google, make_user):
    make_user(email="ada@example.com", verified=False)

    assert_error(_google_login(api, email="ada@example.com"), 409, "email_conflict")
    assert SocialAccount.objects.count() == 0


def test_inactive_user_cannot_log_in_with_a_linked_identity(api, google):
    _google_login(api)
    User.objects.update(is_active=False)

    assert_error(_google_login(api), 403, "account_inactive")
    assert Session.objects.count() == 1


# --- linking while logged in ----------------------------------------------------------------------------


def test_linking_while_logged_in_then_logging_in_with_the_provider(api, rsps, user, tokens):
    github_user(rsps, emails=[{"email": "ada@example.com", "primary": True, "verified": True}])

    r = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    )

    assert r.status_code == 201, r.content
    body = r.json()
    account = SocialAccount.objects.get()
    assert account.user_id == user.pk
    assert body["id"] == account.pk and body["provider"] == "github" and body["uid"] == "4242"
    assert body["display_name"] == "Octo Cat"
    assert actions(action__startswith="social.") == ["social.linked"]
    linked = AuditEvent.objects.get(action="social.linked")
    assert linked.actor_id == user.pk and linked.details == {
        "provider": "github",
        "social_account_id": account.pk,
    }
    mails = outbox_to("ada@example.com")
    assert [m.subject for m in mails] == ["A GitHub account was linked to your Custodian account"]
    assert "/account/security" in mails[0].body

    # The same address that conflicted before now logs into the linked account.
    login = api.post_json("/auth/social/github", {"access_token": "gho_valid"})
    assert login.status_code == 200, login.content
    assert login.json()["user_created"] is False
    assert Session.objects.get(pk=login.json()["session_id"]).user_id == user.pk


def test_linking_the_same_identity_again_is_200_and_changes_nothing(api, rsps, user, tokens):
    github_user(rsps)
    first = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    )
    again = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert SocialAccount.objects.count() == 1
    assert actions(action="social.linked") == ["social.linked"]
    assert len(outbox_to("ada@example.com")) == 1


def test_linking_an_identity_of_another_user_is_409(api, rsps, make_user, login):
    github_user(rsps)
    assert api.post_json("/auth/social/github", {"access_token": "gho_valid"}).status_code == 200
    owner = User.objects.get(email="octo@example.com")
    make_user(email="ada@example.com")
    tokens = login()

    r = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    )

    assert_error(r, 409, "social_account_taken")
    assert SocialAccount.objects.get().user_id == owner.pk


def test_linking_needs_a_recent_login(api, rsps, user, tokens, settings):
    settings.REAUTH_WINDOW_SECONDS = 600
    Session.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    github_user(rsps)

    r = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    )

    body = assert_error(r, 403, "reauth_required")
    assert body["details"] == {"max_age_seconds": 600}
    assert SocialAccount.objects.count() == 0
    assert len(rsps.calls) == 0  # refused before asking the provider


def test_linking_on_an_old_session_with_the_password(api, rsps, user, tokens):
    Session.objects.update(created_at=timezone.now() - timedelta(hours=1))
    github_user(rsps)

    r = api.call(
        "post",
        "/me/social-accounts/github/link",
        {"access_token": "gho_valid", "password": PASSWORD},
        token=tokens["access"],
    )

    assert r.status_code == 201, r.content
    assert SocialAccount.objects.get().user_id == user.pk


def test_linking_with_a_wrong_password_is_refused_before_the_provider(api, rsps, user, tokens):
    github_user(rsps)

    # A recent session does not excuse a wrong password: it is checked, and counted.
    r = api.call(
        "post",
        "/me/social-accounts/github/link",
        {"access_token": "gho_valid", "password": "not-the-password-0"},
        token=tokens["access"],
    )

    assert_error(r, 400, "wrong_password")
    assert SocialAccount.objects.count() == 0
    assert len(rsps.calls) == 0
    event = AuditEvent.objects.get(action="auth.reauth_failed")
    assert event.subject_id == user.pk
    assert event.details == {"reason": "wrong_password", "purpose": "social_link"}


def test_linking_with_a_password_longer_than_the_schema_allows_is_422(api, rsps, user, tokens):
    r = api.call(
        "post",
        "/me/social-accounts/github/link",
        {"access_token": "gho_valid", "password": "x" * 1025},
        token=tokens["access"],
    )

    assert_error(r, 422, "validation_error")
    assert len(rsps.calls) == 0 and SocialAccount.objects.count() == 0


def test_linking_needs_a_bearer_token(api, rsps):
    r = api.post_json("/me/social-accounts/github/link", {"access_token": "gho_valid"})

    assert_error(r, 401, "not_authenticated")
    assert len(rsps.calls) == 0


def test_linking_reports_provider_errors(api, rsps, user, tokens):
    github_app_token(rsps)
    rsps.get(GITHUB_USER_URL, status=500)
    link = {"access_token": "gho_valid"}
    assert_error(
        api.call("post", "/me/social-accounts/github/link", link, token=tokens["access"]),
        502,
        "provider_unavailable",
    )

    rsps.replace("GET", GITHUB_USER_URL, body=requests.exceptions.ReadTimeout())
    assert_error(
        api.call("post", "/me/social-accounts/github/link", link, token=tokens["access"]),
        502,
        "provider_unavailable",
    )

    rsps.replace("GET", GITHUB_USER_URL, status=401)
    assert_error(
        api.call("post", "/me/social-accounts/github/link", link, token=tokens["access"]),
        400,
        "invalid_provider_token",
    )
    assert_error(
        api.call("post", "/me/social-accounts/twitter/link", link, token=tokens["access"]),
        404,
        "unknown_provider",
    )
    assert SocialAccount.objects.count() == 0


# --- soft-deleted owners --------------------------------------------------------------------------------


def _deleted_google_user(api):
    r = _google_login(api, email="ada@example.com")
    assert r.status_code == 200, r.content
    old = User.objects.get()
    old.set_password(PASSWORD)
    old.save(update_fields=["password"])
    api.call("delete", "/me", {"password": PASSWORD}, token=r.json()["access"])
    old.refresh_from_db()
    assert not old.is_live
    return old


def test_deleted_users_identity_never_logs_into_the_new_account_reusing_the_email(api, google, make_user):
    old = _deleted_google_user(api)
    new = make_user(email="ada@example.com")

    r = _google_login(api, email="ada@example.com")

    assert_error(r, 409, "email_conflict")
    assert not Session.objects.filter(user=new).exists()
    assert not Session.objects.filter(user=old, revoked_at__isnull=True).exists()
    # The stale link was treated as absent and removed (recorded against the deleted user).
    assert SocialAccount.objects.count() == 0
    unlinked = AuditEvent.objects.get(action="social.unlinked")
    assert unlinked.subject_id == old.pk and unlinked.actor_id is None
    assert unlinked.details["reason"] == "owner_deleted"


def test_deleted_users_identity_signs_up_afresh_when_the_email_is_free(api, google):
    old = _deleted_google_user(api)

    r = _google_login(api, email="ada@example.com")

    assert r.status_code == 200, r.content
    assert r.json()["user_created"] is True
    new = User.objects.live().get()
    assert new.pk != old.pk
    assert SocialAccount.objects.get().user_id == new.pk
    assert Session.objects.get(pk=r.json()["session_id"]).user_id == new.pk


def test_deleted_users_identity_can_be_linked_by_the_new_account(api, google, make_user, login):
    _deleted_google_user(api)
    new = make_user(email="ada@example.com")
    tokens = login()

    r = api.call(
        "post",
        "/me/social-accounts/google/link",
        {"id_token": google_id_token(email="ada@example.com")},
        token=tokens["access"],
    )

    assert r.status_code == 201, r.content
    assert SocialAccount.objects.get().user_id == new.pk


# --- list and unlink ------------------------------------------------------------------------------------


def test_list_shows_only_own_accounts_oldest_first(api, google, rsps, user, tokens, make_user):
    github_user(rsps)
    api.call("post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"])
    api.call(
        "post", "/me/social-accounts/google/link", {"id_token": google_id_token()}, token=tokens["access"]
    )
    other = make_user(email="other@example.com")
    SocialAccount.objects.create(user=other, provider="github", uid="999")

    r = api.call("get", "/me/social-accounts", token=tokens["access"])

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 2
    assert [(i["provider"], i["uid"], i["email"]) for i in body["items"]] == [
        ("github", "4242", None),
        ("google", "g-1001", "gina@example.com"),
    ]
    assert set(body["items"][0]) == {
        "id",
        "provider",
        "uid",
        "email",
        "display_name",
        "linked_at",
        "last_login_at",
    }
    paged = api.call("get", "/me/social-accounts?limit=1&offset=1", token=tokens["access"]).json()
    assert [i["provider"] for i in paged["items"]] == ["google"] and paged["count"] == 2
    assert_error(
        api.call("get", "/me/social-accounts?limit=1000", token=tokens["access"]), 422, "validation_error"
    )
    assert_error(api.call("get", "/me/social-accounts"), 401)


def test_unlink_removes_the_link_and_records_it(api, rsps, user, tokens):
    github_user(rsps)
    account_id = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    ).json()["id"]

    r = api.call("delete", f"/me/social-accounts/{account_id}", token=tokens["access"])

    assert r.status_code == 204, r.content
    assert SocialAccount.objects.count() == 0
    event = AuditEvent.objects.get(action="social.unlinked")
    assert event.actor_id == user.pk and event.subject_id == user.pk
    assert event.details == {"provider": "github", "social_account_id": account_id, "reason": "unlinked"}
    assert_error(
        api.call("delete", f"/me/social-accounts/{account_id}", token=tokens["access"]), 404, "not_found"
    )


def test_unlink_of_another_users_account_is_404_and_keeps_it(api, user, tokens, make_user):
    other = make_user(email="other@example.com")
    theirs = SocialAccount.objects.create(user=other, provider="github", uid="999")

    assert_error(
        api.call("delete", f"/me/social-accounts/{theirs.pk}", token=tokens["access"]), 404, "not_found"
    )
    assert_error(api.call("delete", "/me/social-accounts/987654", token=tokens["access"]), 404, "not_found")
    assert SocialAccount.objects.filter(pk=theirs.pk).exists()
    assert not AuditEvent.objects.filter(action="social.unlinked").exists()


def test_unlink_with_a_bad_id_is_422_never_405(api, user, tokens):
    """A DELETE with an id that is not one (a provider name included) reaches the unlink operation and is
    refused there in the error schema; no neighbouring route answers 405."""
    for bad in (
        "abc",
        "github",
        "-1",
        "0",
        "1.5",
        "99999999999999999999999",
        "00000000-0000-0000-0000-000000000000",
    ):
        r = api.call("delete", f"/me/social-accounts/{bad}", token=tokens["access"])
        body = assert_error(r, 422, "validation_error")
        assert "account_id" in body["details"]["fields"], (bad, body)
    assert_error(api.call("delete", "/me/social-accounts/1"), 401)


def test_unlinking_the_last_login_method_is_409(api, google, rsps):
    body = _google_login(api).json()
    user = User.objects.get()
    only = SocialAccount.objects.get()
    assert selectors.user_login_methods(user=user) == ["google"]

    r = api.call("delete", f"/me/social-accounts/{only.pk}", token=body["access"])

    assert_error(r, 409, "last_login_method")
    assert SocialAccount.objects.filter(pk=only.pk).exists()
    assert not AuditEvent.objects.filter(action="social.unlinked").exists()


def test_a_second_provider_counts_as_a_login_method(api, google, rsps):
    body = _google_login(api, email="gina@example.com").json()
    github_user(rsps)
    linked = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=body["access"]
    )
    assert linked.status_code == 201, linked.content
    user = User.objects.get()
    assert selectors.user_login_methods(user=user) == ["google", "github"]
    google_account = SocialAccount.objects.get(provider="google")

    assert (
        api.call("delete", f"/me/social-accounts/{google_account.pk}", token=body["access"]).status_code
        == 204
    )

    github_account = SocialAccount.objects.get(provider="github")
    assert_error(
        api.call("delete", f"/me/social-accounts/{github_account.pk}", token=body["access"]),
        409,
        "last_login_method",
    )


def test_a_usable_password_counts_as_a_login_method(api, rsps, user, tokens):
    github_user(rsps)
    account_id = api.call(
        "post", "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=tokens["access"]
    ).json()["id"]
    assert selectors.user_login_methods(user=user) == ["password", "github"]

    assert api.call("delete", f"/me/social-accounts/{account_id}", token=tokens["access"]).status_code == 204
    assert selectors.user_login_methods(user=user) == ["password"]
