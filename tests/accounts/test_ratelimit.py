from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts import ratelimit
from tests.conftest import PASSWORD, actions, assert_error, requires_redis

WRONG = "not-the-password-0"


def login(api, login="ada@example.com", password=PASSWORD, **kw):
    return api.post_json("/auth/token", {"login": login, "password": password}, **kw)


def assert_429(response, code):
    body = assert_error(response, 429, code)
    retry_after = int(response["Retry-After"])
    assert retry_after > 0
    assert body["details"]["retry_after"] == retry_after
    return retry_after


# --- lockout --------------------------------------------------------------------------------------------


def test_lockout_after_n_failures_even_for_the_right_password(api, user, settings):
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        assert_error(login(api, password=WRONG), 401, "invalid_credentials")
    retry_after = assert_429(login(api), "locked")
    assert retry_after <= settings.LOGIN_LOCKOUT_SECONDS
    assert actions(action="auth.locked") == ["auth.locked"]
    assert actions(subject_id=user.pk, action="auth.login_failed")[-1:] == ["auth.login_failed"]
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)):
        assert login(api).status_code == 200


def test_username_email_and_letter_case_count_together(api, make_user, settings):
    make_user(username="ada_l")
    attempts = ["ada@example.com", "ADA_L", "Ada@Example.COM", "ada_l", " ada@example.com "]
    for value in attempts[: settings.LOGIN_LOCKOUT_FAILURES]:
        assert_error(login(api, login=value, password=WRONG), 401)
    assert_429(login(api, login="ada_l"), "locked")
    assert_429(login(api, login="ada@example.com"), "locked")


def test_success_resets_the_count(api, user, settings):
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        login(api, password=WRONG)
    assert login(api).status_code == 200
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        login(api, password=WRONG)
    assert login(api).status_code == 200


def test_failures_expire_with_the_window(api, user, settings):
    # The failure window is the counter's cache expiry: time_machine moves the local-memory cache's clock,
    # not Redis's, so this test pins the local-memory cache.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        login(api, password=WRONG)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_WINDOW_SECONDS + 1)):
        login(api, password=WRONG)
        assert login(api).status_code == 200


def test_unknown_login_locks_the_same_way(api, db, settings):
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        assert_error(login(api, login="ghost@example.com", password=WRONG), 401, "invalid_credentials")
    assert_429(login(api, login="GHOST@example.com"), "locked")


def test_lock_of_one_account_leaves_others_alone(api, make_user, settings):
    make_user()
    make_user(email="bob@example.com")
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        login(api, password=WRONG)
    assert login(api, login="bob@example.com").status_code == 200


def test_lockout_is_configurable(api, user, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    settings.LOGIN_LOCKOUT_SECONDS = 42
    login(api, password=WRONG)
    login(api, password=WRONG)
    assert 40 <= assert_429(login(api), "locked") <= 42


# --- per-IP limits --------------------------------------------------------------------------------------


def test_login_per_ip_limit_is_rate_limited(api, make_user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/min"}
    for i in range(3):
        make_user(email=f"u{i}@example.com")
        assert login(api, login=f"u{i}@example.com").status_code == 200
    make_user(email="late@example.com")
    assert_429(login(api, login="late@example.com"), "rate_limited")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert login(api, login="late@example.com").status_code == 200


def test_spoofed_forwarded_for_does_not_reset_the_ip_limit(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/min"}
    settings.TRUSTED_PROXY_COUNT = 0
    for i in range(3):
        login(api, headers={"X-Forwarded-For": f"10.0.0.{i}"})
    assert_429(login(api, headers={"X-Forwarded-For": "10.9.9.9"}), "rate_limited")


def test_forwarded_for_is_honoured_behind_a_trusted_proxy(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "2/min"}
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(2):
        login(api, headers={"X-Forwarded-For": "203.0.113.5"})
    assert_429(login(api, headers={"X-Forwarded-For": "203.0.113.5"}), "rate_limited")
    # Another client behind the same proxy has its own counter; a spoofed left-most hop changes nothing.
    assert login(api, headers={"X-Forwarded-For": "203.0.113.6"}).status_code == 200
    assert_429(login(api, headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.5"}), "rate_limited")


@pytest.mark.parametrize(
    ("path", "scope", "body"),
    [
        ("/auth/register", "register_ip", lambda i: {"email": f"n{i}@example.com", "password": PASSWORD}),
        ("/auth/email/resend", "resend_ip", lambda i: {"email": f"n{i}@example.com"}),
        ("/auth/password/reset", "password_reset_ip", lambda i: {"email": f"n{i}@example.com"}),
    ],
)
def test_per_ip_limits_of_the_anonymous_flows(api, db, settings, path, scope, body):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, scope: "2/hour"}
    for i in range(2):
        assert api.post_json(path, body(i)).status_code in (201, 202)
    assert_429(api.post_json(path, body(99)), "rate_limited")


@pytest.mark.parametrize(
    ("path", "scope", "variants"),
    [
        ("/auth/register", "register_address", ["a@example.com", "A@example.com", "a@EXAMPLE.com"]),
        ("/auth/email/resend", "resend_address", ["ada@example.com", "ADA@example.com", "Ada@example.com"]),
        (
            "/auth/password/reset",
            "password_reset_address",
            ["ada@example.com", "ADA@example.com", "aDa@example.com"],
        ),
    ],
)
def test_per_address_limits_ignore_letter_case(api, db, settings, path, scope, variants):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, scope: "2/hour"}
    for email in variants[:2]:
        response = api.post_json(path, {"email": email, "password": PASSWORD})
        assert response.status_code in (201, 202, 409), response.content
    assert_429(api.post_json(path, {"email": variants[2], "password": PASSWORD}), "rate_limited")
    # Another address is not affected.
    assert api.post_json(path, {"email": "other@example.com", "password": PASSWORD}).status_code in (201, 202)


def test_reset_limit_answers_the_same_for_known_and_unknown(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_address": "1/hour"}
    api.post_json("/auth/password/reset", {"email": "ada@example.com"})
    api.post_json("/auth/password/reset", {"email": "nobody@example.com"})
    known = api.post_json("/auth/password/reset", {"email": "ada@example.com"})
    unknown = api.post_json("/auth/password/reset", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 429
    assert known.json()["code"] == unknown.json()["code"] == "rate_limited"
    assert len(mail.outbox) == 1


def test_limits_can_be_switched_off(api, user, settings):
    settings.RATE_LIMIT_ENABLED = False
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "1/min"}
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES + 1):
        login(api, password=WRONG)
    assert login(api).status_code == 200


def test_rate_parse():
    assert ratelimit.rate_parse("10/min") == ratelimit.Rate(10, 60)
    assert ratelimit.rate_parse("5/5min") == ratelimit.Rate(5, 300)
    assert ratelimit.rate_parse("3/hour") == ratelimit.Rate(3, 3600)
    assert ratelimit.rate_parse("100/day") == ratelimit.Rate(100, 86400)
    assert ratelimit.rate_parse("1/s") == ratelimit.Rate(1, 1)
    for bad in ("ten/min", "5/fortnight", "5", "/min"):
        with pytest.raises(ValueError):
            ratelimit.rate_parse(bad)


# --- cache outage ---------------------------------------------------------------------------------------

DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6390/0",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


def test_login_works_when_redis_is_down_and_the_limiter_logs_an_error(api, user, settings, caplog):
    settings.CACHES = DOWN
    with caplog.at_level(logging.ERROR, logger="accounts.ratelimit"):
        response = login(api)
        assert response.status_code == 200, response.content
        assert_error(login(api, password=WRONG), 401, "invalid_credentials")
        assert api.call("get", "/me", token=response.json()["access"]).status_code == 200
    errors = [r for r in caplog.records if r.name == "accounts.ratelimit" and r.levelno == logging.ERROR]
    assert errors and "failing open" in errors[0].getMessage()


def test_other_limited_flows_fail_open_too(api, user, settings):
    settings.CACHES = DOWN
    assert api.post_json("/auth/password/reset", {"email": "ada@example.com"}).status_code == 202
    assert api.post_json("/auth/email/resend", {"email": "ada@example.com"}).status_code == 202
    assert (
        api.post_json("/auth/register", {"email": "new@example.com", "password": PASSWORD}).status_code == 201
    )


def test_concurrent_requests_are_counted_exactly(settings):
    """add + incr is atomic (local memory here, Redis on the PostgreSQL + Redis run): of 24 concurrent
    requests against a limit of 10, exactly 10 pass."""
    import threading

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "10/hour"}
    barrier = threading.Barrier(24)
    results: list[int | None] = []

    def hit() -> None:
        barrier.wait()
        results.append(ratelimit.consume("login_ip", "198.51.100.7"))

    threads = [threading.Thread(target=hit) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(None) == 10
    assert all(r and r > 0 for r in results if r is not None)


@requires_redis
def test_on_redis_a_count_is_one_round_trip_that_sets_the_expiry_and_reads_back(settings, monkeypatch):
    """A script that INCRs and sets a new counter's expiry: one send per count, the window's expiry on the
    key, and the value a plain integer that Django's cache reads."""
    import os
    import secrets

    import redis
    from django.core.cache import cache

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"rl-test-{secrets.token_hex(4)}",
        }
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "3/min"}
    sends: list[int] = []
    real_send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self, command, check_health=True):  # type: ignore[no-untyped-def]
        sends.append(1)
        return real_send(self, command, check_health)

    ratelimit.consume("login_ip", "192.0.2.1")  # the connection's handshake and the script's first load
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    start = (int(timezone.now().timestamp()) // 60 + 1) * 60 + 10  # one window for all four counts
    with time_machine.travel(start, tick=False):
        assert [ratelimit.consume("login_ip", "203.0.113.9") for _ in range(3)] == [None, None, None]
        assert len(sends) == 3
        assert ratelimit.consume("login_ip", "203.0.113.9") == 50
    window = start // 60
    key = f"rl:login_ip:{ratelimit._digest('203.0.113.9')}:{window}"
    assert cache.get(key) == 4
    client = cache._cache.get_client(key)
    assert 0 < client.ttl(cache.make_and_validate_key(key)) <= 60 + 5


def test_concurrent_failures_lock_once(settings):
    import threading

    barrier = threading.Barrier(12)
    locked: list[bool] = []

    def fail() -> None:
        barrier.wait()
        locked.append(ratelimit.lockout_failure("user-under-attack"))

    threads = [threading.Thread(target=fail) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(locked)
    assert ratelimit.lockout_retry_after("user-under-attack") is not None


def test_bad_limit_settings_fail_the_system_check(settings):
    from django.core import checks

    assert [m for m in checks.run_checks() if m.id == "accounts.E001"] == []
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "ten per minute", "resend_ip": "0/min"}
    settings.LOGIN_LOCKOUT_FAILURES = 0
    problems = [m.msg for m in checks.run_checks() if m.id == "accounts.E001"]
    assert len(problems) == 3
    assert any("login_ip" in p for p in problems) and any("resend_ip" in p for p in problems)
