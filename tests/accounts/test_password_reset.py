from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import Session
from audit.models import AuditEvent
from tests.accounts.support import assert_mail_ok, last_mail, link_query
from tests.conftest import PASSWORD, actions, assert_error, outbox_to

NEW_PASSWORD = "a-fresh-long-passphrase-7"


def reset_link(api, email="ada@example.com"):
    mail.outbox.clear()
    response = api.post_json("/auth/password/reset", {"email": email})
    assert response.status_code == 202, response.content
    return link_query(last_mail(email, "reset"))


def confirm(api, query, password=NEW_PASSWORD):
    return api.post_json(
        "/auth/password/reset/confirm",
        {"uid": query["uid"], "token": query["token"], "new_password": password},
    )


def test_known_and_unknown_address_get_the_same_answer(api, user):
    known = api.post_json("/auth/password/reset", {"email": "ada@example.com"})
    unknown = api.post_json("/auth/password/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(outbox_to("ada@example.com")) == 1
    assert outbox_to("nobody@example.com") == []
    assert actions(action="user.password_reset_requested") == ["user.password_reset_requested"]
    # The background task carries the request's context into the audit row.
    event = AuditEvent.objects.get(action="user.password_reset_requested")
    assert event.subject_id == user.pk and event.ip == "127.0.0.1"
    assert event.request_id == known["X-Request-ID"]


def test_address_lookup_ignores_case_and_deleted_or_inactive_users(api, make_user):
    make_user(email="Ada@Example.com")
    make_user(email="gone@example.com", deleted_at=timezone.now())
    make_user(email="off@example.com", is_active=False)
    for email in ("ADA@example.COM", "gone@example.com", "off@example.com"):
        assert api.post_json("/auth/password/reset", {"email": email}).status_code == 202
    assert [m.to for m in mail.outbox] == [["Ada@example.com"]]


def test_link_is_built_from_frontend_url_not_host(api, user, settings):
    settings.FRONTEND_URL = "https://app.example"
    settings.ALLOWED_HOSTS = ["*"]
    response = api.call(
        "post", "/auth/password/reset", {"email": "ada@example.com"}, headers={"Host": "evil.example"}
    )
    assert response.status_code == 202
    message = last_mail("ada@example.com", "reset")
    assert_mail_ok(message)
    assert "evil.example" not in message.body
    assert "https://app.example/reset-password?" in message.body


def test_reset_link_works_once(api, user):
    query = reset_link(api)
    response = confirm(api, query)
    assert response.status_code == 200, response.content
    assert_error(confirm(api, query, "yet-another-passphrase-3"), 400, "invalid_token")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert actions(subject_id=user.pk)[-3:] == [
        "user.password_reset_requested",
        "session.revoked_all",
        "user.password_reset",
    ]
    changed = last_mail("ada@example.com", "password was changed")
    assert "reset" in changed.body


def test_reset_link_expires_after_one_hour(api, user):
    query = reset_link(api)
    with time_machine.travel(timezone.now() + timedelta(seconds=3601)):
        assert_error(confirm(api, query), 400, "invalid_token")
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert confirm(api, query).status_code == 200


def test_reset_timeout_setting_is_capped_at_one_hour():
    from config import settings as project_settings

    assert project_settings.PASSWORD_RESET_TIMEOUT <= 3600


def test_reset_link_dies_after_a_password_change(api, user, tokens):
    query = reset_link(api)
    changed = api.call(
        "post",
        "/me/password",
        {"current_password": PASSWORD, "new_password": "changed-in-between-42"},
        token=tokens["access"],
    )
    assert changed.status_code == 200
    assert_error(confirm(api, query), 400, "invalid_token")


def test_reset_link_dies_after_a_login(api, user, login):
    query = reset_link(api)
    login()
    assert_error(confirm(api, query), 400, "invalid_token")


def test_reset_ends_every_session_and_old_tokens_get_401(api, user, login):
    first, second = login(), login()
    query = reset_link(api)
    assert confirm(api, query).status_code == 200
    for pair in (first, second):
        assert_error(api.call("get", "/me", token=pair["access"]), 401)
        assert_error(api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}), 401)
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        "password_reset"
    }
    assert_error(api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}), 401)
    assert (
        api.post_json("/auth/token", {"login": "ada@example.com", "password": NEW_PASSWORD}).status_code
        == 200
    )


def test_weak_new_password_is_422_per_field_and_keeps_the_link(api, user):
    query = reset_link(api)
    body = assert_error(confirm(api, query, "1234567890"), 422, "validation_error")
    assert "new_password" in body["details"]["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert confirm(api, query).status_code == 200


def test_reset_verifies_the_address_and_lifts_a_lockout(api, make_user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    user = make_user(verified=False)
    for _ in range(2):
        api.post_json("/auth/token", {"login": "ada@example.com", "password": "wrong-password-xx"})
    assert_error(
        api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}), 429, "locked"
    )
    assert confirm(api, reset_link(api)).status_code == 200
    user.refresh_from_db()
    assert user.email_verified
    assert (
        api.post_json("/auth/token", {"login": "ada@example.com", "password": NEW_PASSWORD}).status_code
        == 200
    )


@pytest.mark.parametrize(
    "uid",
    ["", "not-base64!!", "Zm9v", "MTIzNDU2Nzg5MA", "YTBlZWJjOTktOWMwYi00ZWY4LWJiNmQtNmJiOWJkMzgwYTEx"],
)
def test_bad_uid_is_invalid_token_or_422(api, user, uid):
    response = api.post_json(
        "/auth/password/reset/confirm", {"uid": uid, "token": "abc-def", "new_password": NEW_PASSWORD}
    )
    assert response.status_code in (400, 422)
    assert_error(response, response.status_code, "invalid_token" if uid else "validation_error")


def test_token_of_one_user_does_not_work_for_another(api, make_user):
    make_user()
    other = make_user(email="eve@example.com")
    query = reset_link(api)
    from accounts.services import password_reset_uid

    assert_error(
        confirm(api, {"uid": password_reset_uid(other), "token": query["token"]}), 400, "invalid_token"
    )
    assert_error(confirm(api, {"uid": query["uid"], "token": query["token"] + "x"}), 400, "invalid_token")


def test_bad_input(api, user):
    assert_error(api.post_json("/auth/password/reset", "{not json"), 400)
    assert_error(api.post_json("/auth/password/reset", {"email": "not-an-address"}), 422, "validation_error")
    assert_error(api.post_json("/auth/password/reset", {"email": ["a@b.c"]}), 422)
    assert_error(api.post_json("/auth/password/reset/confirm", "{"), 400)
    assert_error(api.post_json("/auth/password/reset/confirm", {"uid": "x"}), 422, "validation_error")
    assert_error(
        api.post_json("/auth/password/reset/confirm", {"uid": 1, "token": 2, "new_password": 3}), 422
    )
    assert mail.outbox == []


def test_unknown_fields_are_ignored(api, user):
    query = reset_link(api)
    response = api.post_json(
        "/auth/password/reset/confirm",
        {**query, "new_password": NEW_PASSWORD, "is_staff": True, "email": "eve@example.com"},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.is_staff and user.email == "ada@example.com"
