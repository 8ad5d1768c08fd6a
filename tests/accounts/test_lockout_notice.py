"""A locked account's owner is told: the first lock within LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS mails them what
happened, when, from which IP, with a working password-reset link. Unknown logins never mail anyone."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from tests.accounts.support import last_mail, link_query
from tests.conftest import PASSWORD, assert_error, outbox_to

WRONG = "not-the-password-0"


def fail(api, times: int, login: str = "ada@example.com", ip: str = "203.0.113.9") -> None:
    for _ in range(times):
        response = api.post_json("/auth/token", {"login": login, "password": WRONG}, REMOTE_ADDR=ip)
        assert response.status_code in (401, 429)


def lock_mails(address: str = "ada@example.com") -> list:
    return [m for m in outbox_to(address) if "locked" in m.subject]


def locked_events() -> list[dict]:
    return [e.details for e in AuditEvent.objects.filter(action="auth.locked").order_by("id")]


def test_the_first_lock_mails_the_owner(api, user, settings):
    fail(api, settings.LOGIN_LOCKOUT_FAILURES)

    message = last_mail("ada@example.com", "locked")
    assert message.subject == "Your account was locked after failed sign-ins"
    assert "203.0.113.9" in message.body
    assert f"{settings.LOGIN_LOCKOUT_FAILURES} times" in message.body
    assert f"{settings.LOGIN_LOCKOUT_SECONDS // 60} minutes" in message.body
    assert timezone.now().strftime("%Y-%m-%d") in message.body
    html = message.alternatives[0][0]
    assert "203.0.113.9" in html and "choose a new password now" in html
    assert locked_events() == [
        {
            "failures": settings.LOGIN_LOCKOUT_FAILURES,
            "seconds": settings.LOGIN_LOCKOUT_SECONDS,
            "owner_notified": True,
        }
    ]

    # The link is a real reset link: it sets a new password and lifts the lock.
    assert_error(
        api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}), 429, "locked"
    )
    query = link_query(message)
    confirm = api.post_json(
        "/auth/password/reset/confirm",
        {"uid": query["uid"], "token": query["token"], "new_password": "a-brand-new-passphrase-4"},
    )
    assert confirm.status_code == 200, confirm.content
    login = api.post_json("/auth/token", {"login": "ada@example.com", "password": "a-brand-new-passphrase-4"})
    assert login.status_code == 200


def test_unknown_logins_mail_nobody(api, db, settings):
    fail(api, settings.LOGIN_LOCKOUT_FAILURES, login="ghost@example.com")
    assert_error(
        api.post_json("/auth/token", {"login": "ghost@example.com", "password": WRONG}), 429, "locked"
    )
    assert outbox_to("ghost@example.com") == []
    assert [e.subject_id for e in AuditEvent.objects.filter(action="auth.locked")] == [None]
    assert locked_events() == [
        {"failures": settings.LOGIN_LOCKOUT_FAILURES, "seconds": settings.LOGIN_LOCKOUT_SECONDS}
    ]


def test_one_mail_per_interval_however_often_it_is_locked(api, user, settings):
    start = timezone.now()
    fail(api, settings.LOGIN_LOCKOUT_FAILURES)
    # The attacker waits out each lock and locks it again: no further mail within the interval.
    for lock in range(1, 4):
        with time_machine.travel(start + timedelta(seconds=lock * (settings.LOGIN_LOCKOUT_SECONDS + 1))):
            fail(api, settings.LOGIN_LOCKOUT_FAILURES)
    assert len(lock_mails()) == 1
    assert [e["owner_notified"] for e in locked_events()] == [True, False, False, False]

    later = start + timedelta(seconds=settings.LOGIN_LOCKOUT_MAIL_INTERVAL_SECONDS + 60)
    with time_machine.travel(later):
        fail(api, settings.LOGIN_LOCKOUT_FAILURES)
    assert len(lock_mails()) == 2
    assert locked_events()[-1]["owner_notified"] is True


def test_wrong_passwords_at_a_re_authentication_lock_and_mail_too(api, user, tokens, settings):
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        api.call("delete", "/me", {"password": WRONG}, token=tokens["access"])
    assert len(lock_mails()) == 1


def test_a_deactivated_account_is_not_mailed(api, make_user, settings):
    make_user(email="gone@example.com", is_active=False)
    fail(api, settings.LOGIN_LOCKOUT_FAILURES, login="gone@example.com")
    assert lock_mails("gone@example.com") == []
    assert locked_events()[-1]["owner_notified"] is False
