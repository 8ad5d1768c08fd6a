from __future__ import annotations

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher
from django.core import mail

from accounts.models import Session, User
from tests.accounts.support import last_mail
from tests.conftest import PASSWORD, actions, assert_error

NEW_PASSWORD = "a-fresh-long-passphrase-7"


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 with a tiny cost, so the upgrade test does not spend 200 ms per hash."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


def change(api, token, current=PASSWORD, new=NEW_PASSWORD):
    return api.call("post", "/me/password", {"current_password": current, "new_password": new}, token=token)


def test_change_keeps_this_session_ends_the_others_and_mails(api, user, login):
    other = login()
    current = login()
    response = change(api, current["access"])
    assert response.status_code == 200, response.content
    assert response.json()["sessions_ended"] == 1
    assert api.call("get", "/me", token=current["access"]).status_code == 200
    assert_error(api.call("get", "/me", token=other["access"]), 401, "session_revoked")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": other["refresh"]}), 401)
    assert api.post_json("/auth/token/refresh", {"refresh": current["refresh"]}).status_code == 200
    assert Session.objects.get(pk=other["session_id"]).revoke_reason == "password_changed"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert actions(subject_id=user.pk)[-3:] == [
        "session.revoked_all",
        "user.password_changed",
        "session.refreshed",
    ]
    alert = last_mail("ada@example.com", "password was changed")
    assert "other sessions have ended" in alert.body


def test_wrong_current_password_is_400_and_changes_nothing(api, user, tokens):
    assert_error(change(api, tokens["access"], current="not-my-password"), 400, "wrong_password")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert actions(action="auth.reauth_failed") == ["auth.reauth_failed"]
    assert mail.outbox == []


def test_repeated_wrong_current_passwords_lock_the_account(api, user, tokens, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    for _ in range(3):
        assert_error(change(api, tokens["access"], current="nope-nope-nope"), 400, "wrong_password")
    response = change(api, tokens["access"])
    assert_error(response, 429, "locked")
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short-1", "too short"),
        ("password123", "too common"),
        ("83749201938475", "entirely numeric"),
        ("ada@example.com1", "too similar"),
        ("x" * 129, "too long"),
    ],
)
def test_password_policy_comes_back_per_field(api, user, tokens, password, fragment):
    body = assert_error(change(api, tokens["access"], new=password), 422, "validation_error")
    messages = body["details"]["fields"]["new_password"]
    assert any(fragment in m for m in messages), messages
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_policy_applies_to_registration_too(api):
    body = assert_error(
        api.post_json("/auth/register", {"email": "bob@example.com", "password": "12345"}), 422
    )
    assert set(body["details"]["fields"]) == {"password"}
    assert len(body["details"]["fields"]["password"]) >= 2  # too short and entirely numeric


def test_new_password_must_differ(api, user, tokens):
    body = assert_error(change(api, tokens["access"], new=PASSWORD), 422, "validation_error")
    assert "new_password" in body["details"]["fields"]


def test_bad_input(api, user, tokens):
    assert_error(api.call("post", "/me/password", "{oops", token=tokens["access"]), 400)
    assert_error(
        api.call("post", "/me/password", {"current_password": PASSWORD}, token=tokens["access"]), 422
    )
    assert_error(
        api.call("post", "/me/password", {"current_password": 1, "new_password": []}, token=tokens["access"]),
        422,
    )
    assert_error(change(api, None), 401)
    assert_error(change(api, "not-a-token"), 401)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_production_hashers_put_argon2_first():
    from django.utils.module_loading import import_string

    from config import settings as project_settings

    # Django's Argon2id with one lane (accounts.hashers; tests/perf/test_password_hasher.py)
    assert import_string(project_settings.PASSWORD_HASHERS[0]).algorithm == "argon2"


def test_pbkdf2_hash_is_upgraded_to_argon2_on_login(api, make_user, settings):
    settings.PASSWORD_HASHERS = [
        "tests.accounts.test_password_change.FastArgon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    user = make_user()
    legacy = PBKDF2PasswordHasher().encode(PASSWORD, "legacysalt123", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=legacy)
    response = api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)
    assert api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}).status_code == 200
