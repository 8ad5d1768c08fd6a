from __future__ import annotations

from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from tests.accounts.support import last_mail, link_query
from tests.conftest import PASSWORD, actions, assert_error, outbox_to

NEW = "ada@new.example"


def start(api, token, body=None):
    return api.call("post", "/me/email", body if body is not None else {"new_email": NEW}, token=token)


def confirm(api, key):
    return api.post_json("/auth/email/change/confirm", {"key": key})


def requested_key(api, tokens):
    response = start(api, tokens["access"])
    assert response.status_code == 202, response.content
    return link_query(last_mail(NEW, "confirm"))["key"]


def test_change_applies_only_from_the_link(api, user, tokens):
    key = requested_key(api, tokens)
    notice = last_mail("ada@example.com", "change was requested")
    assert NEW in notice.body
    # Nothing changed yet: the old address still logs in, the new one does not.
    assert api.call("get", "/me", token=tokens["access"]).json()["email"] == "ada@example.com"
    assert_error(api.post_json("/auth/token", {"login": NEW, "password": PASSWORD}), 401)
    assert_error(confirm(api, key[:-2] + "xx"), 400, "invalid_key")
    user.refresh_from_db()
    assert user.email == "ada@example.com"

    response = confirm(api, key)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == NEW
    user.refresh_from_db()
    assert user.email == NEW and user.email_verified
    assert api.post_json("/auth/token", {"login": NEW, "password": PASSWORD}).status_code == 200
    assert_error(api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}), 401)
    changed = last_mail("ada@example.com", "address was changed")
    assert NEW in changed.body
    assert actions(action__startswith="user.email_change") == [
        "user.email_change_requested",
        "user.email_changed",
    ]


def test_link_works_once(api, user, tokens):
    key = requested_key(api, tokens)
    assert confirm(api, key).status_code == 200
    assert_error(confirm(api, key), 400, "invalid_key")


def test_refused_when_the_address_was_taken_meanwhile(api, user, tokens, make_user):
    key = requested_key(api, tokens)
    make_user(email=NEW)
    assert_error(confirm(api, key), 409, "email_taken")
    user.refresh_from_db()
    assert user.email == "ada@example.com"
    assert actions(action="user.email_changed") == []


def test_address_of_a_deleted_user_is_free(api, user, tokens, make_user):
    make_user(email=NEW, deleted_at=timezone.now())
    key = requested_key(api, tokens)
    assert confirm(api, key).status_code == 200


def test_taken_address_is_202_and_its_owner_gets_a_notice(api, user, tokens, make_user):
    """Same answer as for a free address (no 409 to enumerate accounts with); the owner of the taken address
    is told someone tried, without a link and without anything the requester wrote."""
    user.first_name = "Visit evil.example now"
    user.save(update_fields=["first_name"])
    owner = make_user(email="Ada@New.example")
    free = start(api, tokens["access"], {"new_email": "free@new.example"})
    mail.outbox.clear()

    taken = start(api, tokens["access"])

    assert taken.status_code == 202 and taken.content == free.content
    [notice] = outbox_to(owner.email)
    assert "tried to use your e-mail address" in notice.subject
    assert "evil.example" not in notice.body + notice.alternatives[0][0]
    assert "confirm-email-change" not in notice.body and "key=" not in notice.body
    # The requester's own mailbox and trail read as for a free address.
    assert len(outbox_to("ada@example.com")) == 1 and len(mail.outbox) == 2
    assert actions(subject_id=user.pk, action__startswith="user.email_change") == [
        "user.email_change_requested",
        "user.email_change_requested",
    ]
    assert actions(subject_id=owner.pk) == ["user.email_change_targeted"]
    event = AuditEvent.objects.get(action="user.email_change_targeted")
    assert event.actor_id is None and event.details == {}
    owner.refresh_from_db()
    user.refresh_from_db()
    assert owner.email == "Ada@new.example" and user.email == "ada@example.com"


def test_mail_to_the_new_address_carries_nothing_the_user_wrote(api, user, tokens):
    user.first_name = "Visit evil.example now"
    user.save(update_fields=["first_name"])

    requested_key(api, tokens)

    [confirmation] = outbox_to(NEW)
    assert "evil.example" not in confirmation.subject + confirmation.body + confirmation.alternatives[0][0]


def test_requests_are_limited_per_account(api, user, tokens, settings):
    """25 requests in a row to 25 addresses: the account limit's worth of links, then 429 with Retry-After."""
    limit = int(settings.RATE_LIMITS["email_change_account"].split("/")[0])
    answers = [start(api, tokens["access"], {"new_email": f"spray{i}@victims.example"}) for i in range(25)]

    assert [r.status_code for r in answers] == [202] * limit + [429] * (25 - limit)
    for refused in answers[limit:]:
        body = assert_error(refused, 429, "rate_limited")
        assert int(refused["Retry-After"]) == body["details"]["retry_after"] >= 1
    links = [m for m in mail.outbox if m.to[0].endswith("@victims.example")]
    assert len(links) == limit
    assert len(mail.outbox) == 2 * limit  # and one notice per accepted request to the account's own address


def test_requests_are_limited_per_target_address(api, user, tokens, make_user, login, settings):
    """Several accounts aiming at one address: the address limit holds across them."""
    limit = int(settings.RATE_LIMITS["email_change_address"].split("/")[0])
    others = [make_user(email=f"user{i}@example.com") for i in range(limit + 1)]
    sessions = [tokens["access"]] + [login(o.email)["access"] for o in others]

    answers = [start(api, access, {"new_email": "target@victims.example"}) for access in sessions]

    assert [r.status_code for r in answers] == [202] * limit + [429] * (len(sessions) - limit)
    assert_error(answers[-1], 429, "rate_limited")
    assert len(outbox_to("target@victims.example")) == limit


def test_same_address_is_422(api, user, tokens):
    body = assert_error(start(api, tokens["access"], {"new_email": "ADA@example.com"}), 422)
    assert "new_email" in body["details"]["fields"]


def test_old_session_needs_the_password(api, user, tokens, settings):
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.REAUTH_WINDOW_SECONDS + 60)):
        fresh = api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}).json()
        assert_error(start(api, fresh["access"]), 403, "reauth_required")
        assert_error(
            start(api, fresh["access"], {"new_email": NEW, "password": "wrong-password-1"}),
            400,
            "wrong_password",
        )
        assert mail.outbox == []
        response = start(api, fresh["access"], {"new_email": NEW, "password": PASSWORD})
        assert response.status_code == 202
    assert actions(action="auth.reauth_failed") == ["auth.reauth_failed"]


def test_link_expires(api, user, tokens, settings):
    key = requested_key(api, tokens)
    later = timezone.now() + timedelta(hours=settings.EMAIL_CHANGE_MAX_AGE_HOURS, minutes=1)
    with time_machine.travel(later):
        assert_error(confirm(api, key), 400, "invalid_key")


def test_password_change_cancels_a_pending_change(api, user, tokens):
    key = requested_key(api, tokens)
    response = api.call(
        "post",
        "/me/password",
        {"current_password": PASSWORD, "new_password": "another-long-passphrase-5"},
        token=tokens["access"],
    )
    assert response.status_code == 200
    assert_error(confirm(api, key), 400, "invalid_key")


def test_bad_input_and_unknown_fields(api, user, tokens):
    access = tokens["access"]
    assert_error(api.call("post", "/me/email", "{nope", token=access), 400)
    assert_error(start(api, access, {"new_email": "not-an-address"}), 422, "validation_error")
    assert_error(start(api, access, {"new_email": 42}), 422)
    assert_error(start(api, None), 401)
    assert_error(confirm(api, ""), 422)
    assert_error(confirm(api, "garbage"), 400, "invalid_key")
    assert_error(api.post_json("/auth/email/change/confirm", "{"), 400)
    response = start(api, access, {"new_email": NEW, "email": "eve@example.com", "is_staff": True})
    assert response.status_code == 202
    user.refresh_from_db()
    assert user.email == "ada@example.com" and not user.is_staff


def test_confirmed_change_kills_an_outstanding_reset_link(api, user, tokens):
    key = requested_key(api, tokens)
    api.post_json("/auth/password/reset", {"email": "ada@example.com"})
    reset = link_query(last_mail("ada@example.com", "reset"))
    assert confirm(api, key).status_code == 200
    response = api.post_json(
        "/auth/password/reset/confirm", {**reset, "new_password": "a-fresh-long-passphrase-7"}
    )
    assert_error(response, 400, "invalid_token")
