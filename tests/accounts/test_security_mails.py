from __future__ import annotations

import pytest
from django.core import mail

from tests.accounts.support import assert_mail_ok, last_mail, link_query
from tests.conftest import PASSWORD

EVIL = {"Host": "evil.example"}


@pytest.fixture(autouse=True)
def hostile_host(settings):
    settings.FRONTEND_URL = "https://app.example"
    settings.ALLOWED_HOSTS = ["*"]


def test_every_security_mail_has_both_parts_and_only_frontend_links(api, user, settings):
    settings.NEW_SIGNIN_MAIL = True
    tokens = api.post_json(
        "/auth/token", {"login": "ada@example.com", "password": PASSWORD}, headers=EVIL
    ).json()
    api.post_json(
        "/auth/token",
        {"login": "ada@example.com", "password": PASSWORD},
        headers={**EVIL, "User-Agent": "Other/1.0"},
    )
    api.call(
        "post",
        "/me/password",
        {"current_password": PASSWORD, "new_password": "changed-passphrase-11"},
        token=tokens["access"],
        headers=EVIL,
    )
    api.call("post", "/me/email", {"new_email": "ada@new.example"}, token=tokens["access"], headers=EVIL)
    key = link_query(last_mail("ada@new.example", "confirm"))["key"]
    api.post_json("/auth/email/change/confirm", {"key": key}, headers=EVIL)
    api.post_json("/auth/password/reset", {"email": "ada@new.example"}, headers=EVIL)
    query = link_query(last_mail("ada@new.example", "reset"))
    response = api.post_json(
        "/auth/password/reset/confirm", {**query, "new_password": "reset-passphrase-22"}, headers=EVIL
    )
    assert response.status_code == 200, response.content

    # The foundation's mails go through the same check: verification, welcome, refresh-token reuse.
    settings.REFRESH_REUSE_GRACE_SECONDS = 0
    api.post_json("/auth/register", {"email": "bob@example.com", "password": PASSWORD}, headers=EVIL)
    key = link_query(last_mail("bob@example.com", "verify"))["key"]
    api.post_json("/auth/email/verify", {"key": key}, headers=EVIL)
    pair = api.post_json(
        "/auth/token", {"login": "bob@example.com", "password": PASSWORD}, headers=EVIL
    ).json()
    api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}, headers=EVIL)
    reused = api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}, headers=EVIL)
    assert reused.json()["code"] == "token_reused"

    templates = {m.subject for m in mail.outbox}
    assert templates == {
        "New sign-in to your account",
        "Security alert: your password was changed",
        "Confirm your new e-mail address",
        "Security notice: an e-mail address change was requested",
        "Security notice: your e-mail address was changed",
        "Reset your password",
        "Verify your e-mail address",
        "Security alert: your session was ended",
        "Welcome to Custodian",
    }
    for message in mail.outbox:
        assert_mail_ok(message)
        html = message.alternatives[0][0]
        assert "evil.example" not in message.body and "evil.example" not in html
        assert "https://app.example/" in message.body and "https://app.example/" in html


def test_reset_link_keeps_both_query_parameters_in_the_text_part(api, user):
    api.post_json("/auth/password/reset", {"email": "ada@example.com"})
    message = last_mail("ada@example.com", "reset")
    assert "&amp;" not in message.body
    assert set(link_query(message)) == {"uid", "token"}


def test_new_sign_in_mail_is_optional_and_only_for_a_new_device(api, user, settings):
    def login(agent):
        response = api.post_json(
            "/auth/token", {"login": "ada@example.com", "password": PASSWORD}, headers={"User-Agent": agent}
        )
        assert response.status_code == 200

    login("Phone/1")
    login("Laptop/2")
    assert mail.outbox == []  # off by default
    settings.NEW_SIGNIN_MAIL = True
    login("Phone/1")
    assert mail.outbox == []  # a device seen before
    login("Tablet/3")
    message = last_mail("ada@example.com", "new sign-in")
    assert "Tablet/3" in message.body
    assert len(mail.outbox) == 1


def test_first_login_is_not_news(api, user, settings):
    settings.NEW_SIGNIN_MAIL = True
    assert api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}).status_code == 200
    assert mail.outbox == []
