"""Concurrent second steps (PostgreSQL: real row locks): one mfa_token opens one session, one TOTP code logs in
once, whatever arrives at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from accounts.models import Session
from tests.conftest import ApiClient, requires_postgres
from tests.support.mfa import mfa_token, totp_code

pytestmark = [
    requires_postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("generous_login_limit"),
]


def _race(bodies: list[dict[str, Any]]) -> list[int]:
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def attempt(body: dict[str, Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait()
                statuses.append(ApiClient().post_json("/auth/mfa/verify", body).status_code)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=attempt(body)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return sorted(statuses)


def _mfa_sessions() -> int:
    return sum("mfa" in s.amr for s in Session.objects.all())


def test_one_token_opens_one_session(api, mfa_user):
    token = mfa_token(api)["mfa_token"]
    code = totp_code(mfa_user["secret"])
    statuses = _race([{"mfa_token": token, "code": code}] * 4)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 400, 401}, statuses
    assert _mfa_sessions() == 1


def test_one_code_logs_in_once(api, mfa_user):
    code = totp_code(mfa_user["secret"])
    statuses = _race([{"mfa_token": mfa_token(api)["mfa_token"], "code": code} for _ in range(4)])
    assert statuses == [200, 400, 400, 400], statuses
    assert _mfa_sessions() == 1
