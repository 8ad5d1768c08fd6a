"""Query budgets of the hot paths, counted through the HTTP API as a deployment runs them:
GET /me <= 2, refresh <= 4 (2 sent: swap, audit row; 1 on PostgreSQL), login <= 5, each MFA step
<= 5 statements.

What counts: the SQL a request sends for its work. Django (>= 4.2) also logs the brackets of a
transaction as queries (BEGIN/COMMIT, or SAVEPOINT/RELEASE inside a test transaction), and
django_assert_max_num_queries counts them. So each check asserts both: everything, brackets included,
within the budget plus one transaction's two brackets; and the statements without brackets within the
budget. The tests run in real transactions (transaction=True), so the captured list is exactly what
production sends (on SQLite `BEGIN IMMEDIATE` is itself a statement; PostgreSQL's BEGIN is logged by Django).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Session
from tests.conftest import PASSWORD, ApiClient

pytestmark = pytest.mark.django_db(transaction=True)

_BRACKET = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)
ONE_TRANSACTION = 2


@pytest.fixture
def within_budget(django_assert_max_num_queries: Any) -> Any:
    @contextmanager
    def check(budget: int, transactions: int = 1) -> Any:
        with django_assert_max_num_queries(budget + transactions * ONE_TRANSACTION) as captured:
            yield captured
        work = [q["sql"] for q in captured.captured_queries if not _BRACKET.match(q["sql"])]
        assert len(work) <= budget, "\n".join(work)

    return check


def test_get_me_within_two_queries_also_when_the_session_is_touched(
    api: ApiClient, tokens, within_budget, django_assert_num_queries
) -> None:
    with django_assert_num_queries(1):  # recently seen: the lookup only, no transaction
        assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    stale = timezone.now() - timedelta(minutes=10)
    Session.objects.filter(pk=tokens["session_id"]).update(last_seen_at=stale)
    with within_budget(2, transactions=0):  # lookup + last_seen_at touch
        assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    assert Session.objects.get(pk=tokens["session_id"]).last_seen_at > stale


def test_refresh_within_four_queries(api: ApiClient, tokens, within_budget) -> None:
    refresh = tokens["refresh"]
    for _ in range(3):  # every rotation, not only the first
        with within_budget(4):
            r = api.post_json("/auth/token/refresh", {"refresh": refresh})
        assert r.status_code == 200, r.content
        refresh = r.json()["refresh"]


def test_refresh_sends_its_swap_and_audit_event_in_one_batch(
    api: ApiClient, tokens, django_assert_max_num_queries
) -> None:
    """The rotation and its audit row, with no lookup before them (the next pair is signed from the
    presented token's claims): on PostgreSQL one statement (the UPDATE as a data-modifying CTE of the
    INSERT, no BEGIN/COMMIT); elsewhere UPDATE and INSERT in one transaction."""
    from django.db import connection

    refresh = tokens["refresh"]
    for _ in range(2):  # a token issued at login, then one issued by a refresh
        with django_assert_max_num_queries(4) as captured:
            r = api.post_json("/auth/token/refresh", {"refresh": refresh})
        assert r.status_code == 200, r.content
        refresh = r.json()["refresh"]
        sent = [q["sql"] for q in captured.captured_queries]
        work = [q for q in sent if not _BRACKET.match(q)]
        if connection.vendor == "postgresql":
            assert len(sent) == 1, "\n".join(sent)
            assert work[0].startswith("WITH changed AS (UPDATE") and "INSERT INTO" in work[0]
        else:
            assert len(work) == 2 and work[0].startswith("UPDATE") and work[1].startswith("INSERT"), (
                "\n".join(sent)
            )
            assert len(sent) == 4  # BEGIN (IMMEDIATE) only around the two writes, then COMMIT


def test_login_within_five_queries(api: ApiClient, user, within_budget) -> None:
    for login in (user.email, user.email.upper()):
        with within_budget(5):
            r = api.post_json("/auth/token", {"login": login, "password": PASSWORD})
        assert r.status_code == 200, r.content


def test_failed_login_within_the_login_budget(api: ApiClient, user, within_budget) -> None:
    with within_budget(5):
        r = api.post_json("/auth/token", {"login": user.email, "password": "wrong-password-1"})
    assert r.status_code == 401


# --- a login with MFA: each step within the login's budget ---------------------------------------------------


def test_mfa_login_within_five_queries_per_step(
    api: ApiClient, user, tokens, within_budget, time_machine
) -> None:
    from tests.support.mfa import Clock, totp_code, totp_enroll

    clock = Clock(time_machine)
    secret = totp_enroll(api, tokens["access"])["secret"]
    for _ in range(2):
        clock.step()
        with within_budget(5):  # user; the challenge and its audit event
            r = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD})
        assert r.status_code == 202, r.content
        with within_budget(
            5
        ):  # challenge + user + authenticators; the code spent; session, last_login, audit
            r = api.post_json(
                "/auth/mfa/verify", {"mfa_token": r.json()["mfa_token"], "code": totp_code(secret)}
            )
        assert r.status_code == 200, r.content


def test_security_key_and_passkey_logins_within_five_queries_per_step(
    api: ApiClient, user, tokens, within_budget
) -> None:
    from tests.support.mfa import authenticator, key_enroll

    device = authenticator()
    assert key_enroll(api, tokens["access"], device, passwordless=True).status_code == 201
    with within_budget(5):  # user, the user's keys; the challenge and its audit event
        r = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD})
    challenge = r.json()
    with within_budget(5):  # challenge + user + keys; the key's last use; session, last_login, audit
        r = api.post_json(
            "/auth/mfa/verify",
            {"mfa_token": challenge["mfa_token"], "credential": device.get(challenge["webauthn"])},
        )
    assert r.status_code == 200, r.content

    with within_budget(5, transactions=0):  # the challenge
        options = api.post_json("/auth/passkey/options").json()
    with within_budget(5):
        r = api.post_json(
            "/auth/passkey/verify",
            {"passkey_token": options["passkey_token"], "credential": device.get(options["public_key"])},
        )
    assert r.status_code == 200, r.content


def _outside_django_session(captured: Any) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if not _BRACKET.match(q["sql"]) and '"django_session"' not in q["sql"]
    ]


def test_console_mfa_login_within_five_queries_per_step_plus_the_django_session(
    api: ApiClient, make_user, within_budget, time_machine, settings
) -> None:
    """The console's password step and code step do the API's work, five statements each at most (the code
    step: challenge + user + authenticators; the code spent; the challenge spent; the audit event; Django's
    last_login), plus the Django session's own bookkeeping: created on the first step; on the second read,
    its key cycled at sign-in (exists, insert, old row read and deleted) and saved."""
    from django.test import Client

    from tests.support.mfa import Clock, totp_code, totp_enroll

    settings.CONSOLE_REQUIRE_MFA = True
    staff = make_user(email="staff@example.com", is_staff=True)
    clock = Clock(time_machine)
    access = api.post_json("/auth/token", {"login": staff.email, "password": PASSWORD}).json()["access"]
    secret = totp_enroll(api, access)["secret"]
    for _ in range(2):
        clock.step()
        client = Client()
        with within_budget(5 + 2, transactions=2) as captured:
            r = client.post("/console/login/", {"username": staff.email, "password": PASSWORD})
        assert r.status_code == 302 and r["Location"] == "/console/login/mfa/"
        assert len(_outside_django_session(captured)) <= 5
        with within_budget(5 + 6, transactions=3) as captured:
            r = client.post("/console/login/mfa/", {"code": totp_code(secret)})
        assert r.status_code == 302 and r["Location"] == "/console/"
        assert len(_outside_django_session(captured)) <= 5, "\n".join(_outside_django_session(captured))
