from __future__ import annotations

import re
import threading
from urllib.parse import unquote

import pytest
import time_machine
from django.core import mail
from django.db import connections
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, ApiClient, actions, assert_error, outbox_to


def verification_key(address: str) -> str:
    message = outbox_to(address)[-1]
    match = re.search(r"key=([^\s\"&<]+)", message.body)
    assert match, message.body
    return unquote(match.group(1))


def test_register_sends_verification_mail_and_audits(api: ApiClient) -> None:
    r = api.post_json(
        "/auth/register",
        {"email": "Ada@Example.COM", "password": PASSWORD, "username": "ada", "first_name": "Ada"},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["email"] == "Ada@example.com"
    assert body["username"] == "ada" and body["email_verified"] is False
    user = User.objects.get(pk=body["id"])
    assert user.check_password(PASSWORD) and user.profile is not None
    assert actions(subject_id=user.pk) == ["user.registered"]
    [message] = mail.outbox
    assert message.to == ["Ada@example.com"]
    html = message.alternatives[0][0]
    assert "http://127.0.0.1:8000/verify-email?key=" in message.body and "verify-email?key=" in html
    assert "testserver" not in message.body + html  # never a Host-derived link


def test_verify_key_works_once_and_sends_welcome(api: ApiClient) -> None:
    api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
    key = verification_key("ada@example.com")
    r = api.post_json("/auth/email/verify", {"key": key})
    assert r.status_code == 200 and r.json()["email_verified"] is True
    user = User.objects.get(email="ada@example.com")
    assert user.email_verified_at is not None
    assert actions(subject_id=user.pk) == ["user.registered", "user.email_verified"]
    assert "Welcome" in outbox_to("ada@example.com")[-1].subject
    again = api.post_json("/auth/email/verify", {"key": key})
    assert_error(again, 400, "invalid_key")
    assert actions(subject_id=user.pk) == ["user.registered", "user.email_verified"]


def test_verify_key_expires_and_rejects_tampering(api: ApiClient) -> None:
    with time_machine.travel("2026-01-01 12:00", tick=False):
        api.post_json("/auth/register", {"email": "ada@example.com", "password": PASSWORD})
        key = verification_key("ada@example.com")
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    with time_machine.travel("2026-01-01 13:00", tick=False):
        assert_error(api.post_json("/auth/email/verify", {"key": tampered}), 400, "invalid_key")
        assert_error(api.post_json("/auth/email/verify", {"key": "garbage"}), 400, "invalid_key")
    with time_machine.travel("2026-01-05 12:00", tick=False):
        assert_error(api.post_json("/auth/email/verify", {"key": key}), 400, "invalid_key")
    assert User.objects.get(email="ada@example.com").email_verified_at is None


def test_verification_mail_carries_nothing_the_registrant_wrote(api: ApiClient) -> None:
    """Anyone can register any address: the mail to it must not deliver the registrant's text."""
    body = {"email": "stranger@example.com", "password": PASSWORD, "first_name": "Claim your prize at evil"}
    assert api.post_json("/auth/register", body).status_code == 201

    [message] = outbox_to("stranger@example.com")
    assert "evil" not in message.subject + message.body + message.alternatives[0][0]


def test_resend_answers_the_same_for_unknown_verified_and_unverified(api: ApiClient, make_user) -> None:
    make_user("done@example.com", verified=True)
    api.post_json("/auth/register", {"email": "new@example.com", "password": PASSWORD})
    mail.outbox.clear()
    answers = [
        api.post_json("/auth/email/resend", {"email": address})
        for address in ("nobody@example.com", "done@example.com", "NEW@example.com")
    ]
    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    assert AuditEvent.objects.filter(action="user.verification_resent").count() == 1


def _resend_request_work(address: str) -> tuple[int, list[str], list[str]]:
    """Status, the shapes of the SQL statements the request ran (literals blanked) and the after-commit
    callbacks it registered: everything done before the answer leaves."""

    def shape(sql: str) -> str:
        sql = re.sub(r'SAVEPOINT "[^"]+"', "SAVEPOINT ?", sql)
        return re.sub(r"\b\d+\b", "?", re.sub(r"'(?:[^']|'')*'", "?", sql))

    with (
        CaptureQueriesContext(connections["default"]) as queries,
        TestCase.captureOnCommitCallbacks(execute=False) as callbacks,
    ):
        response = Client().post(
            "/api/v1/auth/email/resend", {"email": address}, content_type="application/json"
        )
    return (
        response.status_code,
        [shape(q["sql"]) for q in queries.captured_queries],
        [getattr(c, "__qualname__", repr(c)) for c in callbacks],
    )


def test_resend_does_the_same_work_for_unknown_verified_and_unverified(make_user) -> None:
    """Resend timing must not tell an unverified account apart: the request itself does the same statements
    and queues the same after-commit work whatever the address, and never reads the users table; the
    lookup and the mail happen in the outbox handler, after the answer."""
    make_user("done@example.com", verified=True)
    make_user("new@example.com", verified=False)

    work = {
        address: _resend_request_work(address)
        for address in ("nobody@example.com", "done@example.com", "new@example.com")
    }

    unknown = work["nobody@example.com"]
    assert unknown[0] == 202 and unknown[1] and unknown[2]
    assert work["done@example.com"] == unknown
    assert work["new@example.com"] == unknown
    assert not any(User._meta.db_table in sql for sql in unknown[1]), unknown[1]
    assert not mail.outbox  # nothing was delivered while answering


def test_duplicate_email_and_username_among_live_users(api: ApiClient, make_user) -> None:
    make_user("ada@example.com", username="ada")
    assert_error(
        api.post_json("/auth/register", {"email": "ADA@example.com", "password": PASSWORD}),
        409,
        "email_taken",
    )
    assert_error(
        api.post_json(
            "/auth/register", {"email": "other@example.com", "password": PASSWORD, "username": "ADA"}
        ),
        409,
        "username_taken",
    )
    assert User.objects.count() == 1


def test_weak_password_fields_in_422(api: ApiClient) -> None:
    r = api.post_json("/auth/register", {"email": "ada@example.com", "password": "12345"})
    body = assert_error(r, 422, "validation_error")
    assert body["details"]["fields"]["password"]
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_registrations_of_one_email_give_one_201() -> None:
    results: list[int] = []
    barrier = threading.Barrier(6)

    def register(i: int) -> None:
        client = ApiClient()
        barrier.wait()
        try:
            email = "race@example.com" if i % 2 else "RACE@example.com"
            r = client.post_json("/auth/register", {"email": email, "password": PASSWORD})
            results.append(r.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409, 409, 409], results
    assert User.objects.live().count() == 1
    assert AuditEvent.objects.filter(action="user.registered").count() == 1
