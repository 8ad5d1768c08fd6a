"""The login contract of a user with MFA: POST /auth/token with the right password answers 202 with a
single-use, short-lived mfa_token; POST /auth/mfa/verify with a TOTP or recovery code opens the session.
Replay, expiry, single use, lockout and enumeration safety, through HTTP."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings

from accounts import tokens as account_tokens
from accounts.models import MfaChallenge, Session, User
from audit.models import AuditEvent
from tests.accounts.support import last_mail
from tests.conftest import PASSWORD, actions, assert_error, outbox_to
from tests.support.mfa import mfa_token, totp_code

pytestmark = pytest.mark.usefixtures("generous_login_limit")


def _mfa_sessions():
    return [s for s in Session.objects.all() if "mfa" in s.amr]


def _verify(api, token, **factor):
    return api.post_json("/auth/mfa/verify", {"mfa_token": token, **factor})


def test_right_password_answers_202_with_an_mfa_token_and_no_session(api, mfa_user):
    user = mfa_user["user"]
    sessions_before = Session.objects.count()

    r = api.post_json("/auth/token", {"login": "ADA@example.com", "password": PASSWORD})

    assert r.status_code == 202, r.content
    body = r.json()
    assert set(body) == {"status", "mfa_token", "expires_at", "methods", "webauthn"}
    assert body["status"] == "mfa_required"
    assert body["methods"] == ["totp", "recovery_codes"] and body["webauthn"] is None
    assert "access" not in body and "refresh" not in body
    assert Session.objects.count() == sessions_before
    challenge = MfaChallenge.objects.get(kind="login")
    assert challenge.token_hash == account_tokens.token_hash(body["mfa_token"])
    assert body["mfa_token"] not in str(MfaChallenge.objects.values_list()), "only the hash is stored"
    assert (challenge.expires_at - challenge.created_at).total_seconds() == settings.MFA_LOGIN_TIMEOUT_SECONDS
    event = AuditEvent.objects.filter(action="auth.mfa_challenged").get()
    assert event.subject_id == user.pk
    assert event.details == {"door": "api", "via": "password", "methods": ["totp", "recovery_codes"]}


def test_a_totp_code_finishes_the_login_with_amr(api, mfa_user):
    user = mfa_user["user"]
    token = mfa_token(api)["mfa_token"]

    r = _verify(api, token, code=totp_code(mfa_user["secret"]))

    assert r.status_code == 200, r.content
    pair = r.json()
    session = Session.objects.get(pk=pair["session_id"])
    assert session.amr == ["pwd", "otp", "mfa"] and session.via == "password"
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["sid"] == str(session.pk)
    login = AuditEvent.objects.filter(action="auth.login").latest("id")
    assert login.details["amr"] == ["pwd", "otp", "mfa"] and login.details["factor"] == "totp"
    assert api.call("get", "/me", token=pair["access"]).json()["mfa"]["enabled"] is True
    sessions = api.call("get", "/me/sessions", token=pair["access"]).json()["items"]
    assert [s["amr"] for s in sessions if s["current"]] == [["pwd", "otp", "mfa"]]
    # A refreshed access token keeps the amr.
    refreshed = api.post_json("/auth/token/refresh", {"refresh": pair["refresh"]}).json()
    assert jwt.decode(refreshed["access"], options={"verify_signature": False})["amr"] == [
        "pwd",
        "otp",
        "mfa",
    ]
    assert User.objects.get(pk=user.pk).last_login is not None


def test_no_mfa_hint_before_a_right_password(api, mfa_user, make_user):
    make_user(email="plain@example.com")
    wrong = api.post_json("/auth/token", {"login": "ada@example.com", "password": "wrong-password-1"})
    unknown = api.post_json("/auth/token", {"login": "nobody@example.com", "password": "wrong-password-1"})
    plain_wrong = api.post_json("/auth/token", {"login": "plain@example.com", "password": "wrong-password-1"})

    bodies = [assert_error(r, 401, "invalid_credentials") for r in (wrong, unknown, plain_wrong)]
    assert bodies[0] == bodies[1] == bodies[2]
    assert not MfaChallenge.objects.filter(kind="login").exists()
    # Users without MFA get their tokens at once.
    assert (
        api.post_json("/auth/token", {"login": "plain@example.com", "password": PASSWORD}).status_code == 200
    )


def test_the_mfa_token_is_single_use(api, mfa_user, clock):
    token = mfa_token(api)["mfa_token"]
    assert _verify(api, token, code=totp_code(mfa_user["secret"])).status_code == 200
    clock.step()

    again = _verify(api, token, code=totp_code(mfa_user["secret"]))

    assert_error(again, 401, "challenge_invalid")
    assert len(_mfa_sessions()) == 1


def test_the_mfa_token_expires(api, mfa_user, clock):
    token = mfa_token(api)["mfa_token"]
    clock.shift(settings.MFA_LOGIN_TIMEOUT_SECONDS + 1)

    r = _verify(api, token, code=totp_code(mfa_user["secret"]))

    assert_error(r, 401, "challenge_invalid")
    assert not _mfa_sessions()


def test_unknown_or_tampered_tokens_are_refused(api, mfa_user):
    token = mfa_token(api)["mfa_token"]
    for bad in ("x", token[:-1], token + "a", "a" * 128):
        assert_error(_verify(api, bad, code=totp_code(mfa_user["secret"])), 401, "challenge_invalid")


def test_a_code_accepted_once_is_refused_within_its_window(api, mfa_user, clock):
    code = totp_code(mfa_user["secret"])
    assert _verify(api, mfa_token(api)["mfa_token"], code=code).status_code == 200

    replay = _verify(api, mfa_token(api)["mfa_token"], code=code)
    assert_error(replay, 400, "wrong_code")
    # Nor an older code of the window, once a newer one was used.
    older = _verify(api, mfa_token(api)["mfa_token"], code=totp_code(mfa_user["secret"], steps=-1))
    assert_error(older, 400, "wrong_code")

    clock.step()
    fresh = _verify(api, mfa_token(api)["mfa_token"], code=totp_code(mfa_user["secret"]))
    assert fresh.status_code == 200, fresh.content


def test_codes_one_step_off_are_accepted_two_are_not(api, mfa_user, clock):
    secret = mfa_user["secret"]
    clock.step(3)  # the enrollment spent a step three periods ago
    assert_error(
        _verify(api, mfa_token(api)["mfa_token"], code=totp_code(secret, steps=-2)), 400, "wrong_code"
    )
    assert _verify(api, mfa_token(api)["mfa_token"], code=totp_code(secret, steps=-1)).status_code == 200
    assert_error(
        _verify(api, mfa_token(api)["mfa_token"], code=totp_code(secret, steps=2)), 400, "wrong_code"
    )
    assert _verify(api, mfa_token(api)["mfa_token"], code=totp_code(secret, steps=1)).status_code == 200


def test_wrong_codes_count_toward_the_one_lockout(api, mfa_user):
    user = mfa_user["user"]
    token = mfa_token(api)["mfa_token"]
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        assert_error(_verify(api, token, code="000000"), 400, "wrong_code")

    locking = _verify(api, token, code="000000")
    assert_error(locking, 400, "wrong_code")
    locked = _verify(api, token, code=totp_code(mfa_user["secret"]))
    body = assert_error(locked, 429, "locked")
    assert int(locked["Retry-After"]) == body["details"]["retry_after"] > 0
    # The same lock holds the password door.
    assert_error(api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}), 429, "locked")
    failures = AuditEvent.objects.filter(action="auth.login_failed", subject_id=user.pk)
    assert (
        failures.filter(details__reason="wrong_code", details__door="api", details__step="mfa").count() == 5
    )
    assert actions(action="auth.locked") == ["auth.locked"]
    assert not _mfa_sessions()


def test_a_right_code_resets_the_failure_count(api, mfa_user, clock):
    token = mfa_token(api)["mfa_token"]
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _verify(api, token, code="000000")
    assert _verify(api, token, code=totp_code(mfa_user["secret"])).status_code == 200
    clock.step()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _verify(api, mfa_token(api)["mfa_token"], code="000000")
    assert _verify(api, mfa_token(api)["mfa_token"], code=totp_code(mfa_user["secret"])).status_code == 200


def test_recovery_codes_are_single_use_and_their_use_is_mailed(api, mfa_user):
    user = mfa_user["user"]
    code = mfa_user["recovery_codes"][3]

    r = _verify(api, mfa_token(api)["mfa_token"], code=code.upper().replace("-", " "))

    assert r.status_code == 200, r.content
    assert Session.objects.get(pk=r.json()["session_id"]).amr == ["pwd", "otp", "mfa"]
    message = last_mail(user.email, "recovery code was used")
    assert "you have 9 left" in message.body
    assert AuditEvent.objects.get(action="mfa.recovery_code_used").details == {"left": 9}
    assert AuditEvent.objects.filter(action="auth.login").latest("id").details["factor"] == "recovery_code"
    status = api.call("get", "/me/mfa", token=r.json()["access"]).json()
    assert status["recovery_codes_left"] == 9

    mails = len(outbox_to(user.email))
    again = _verify(api, mfa_token(api)["mfa_token"], code=code)
    assert_error(again, 400, "wrong_code")
    assert len(outbox_to(user.email)) == mails
    other = _verify(api, mfa_token(api)["mfa_token"], code=mfa_user["recovery_codes"][4])
    assert other.status_code == 200
    assert "you have 8 left" in last_mail(user.email, "recovery code was used").body


def test_a_user_deactivated_or_deleted_between_the_steps_gets_no_session(api, mfa_user):
    user = mfa_user["user"]
    token = mfa_token(api)["mfa_token"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_error(_verify(api, token, code=totp_code(mfa_user["secret"])), 401, "challenge_invalid")
    assert not _mfa_sessions()


def test_a_key_answer_from_a_user_without_keys_is_refused_without_counting(api, mfa_user):
    token = mfa_token(api)["mfa_token"]
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES + 1):
        r = _verify(api, token, credential={"id": "x", "rawId": "x", "type": "public-key"})
        assert_error(r, 400, "webauthn_invalid")
    assert not AuditEvent.objects.filter(action__in=["auth.login_failed", "auth.locked"]).exists()
    assert _verify(api, token, code=totp_code(mfa_user["secret"])).status_code == 200


def test_bad_input(api, mfa_user):
    token = mfa_token(api)["mfa_token"]
    code = totp_code(mfa_user["secret"])
    assert_error(_verify(api, token), 422, "validation_error")
    both = _verify(api, token, code=code, credential={"id": "x"})
    assert_error(both, 422, "validation_error")
    assert_error(_verify(api, token, code=""), 422, "validation_error")
    assert_error(_verify(api, token, code="1" * 65), 422, "validation_error")
    assert_error(_verify(api, token, code=123456), 422, "validation_error")
    assert_error(_verify(api, token, credential="not an object"), 422, "validation_error")
    assert_error(_verify(api, token, credential={"blob": "x" * 20000}), 422, "validation_error")
    assert_error(api.post_json("/auth/mfa/verify", {"code": code}), 422, "validation_error")
    assert_error(api.post_json("/auth/mfa/verify", "[1, 2]"), 400, "bad_request")
    assert_error(_verify(api, "", code=code), 422, "validation_error")
    # None of it spent the token.
    assert _verify(api, token, code=code).status_code == 200


def test_expired_challenges_are_purged_every_hour(api, mfa_user, clock):
    from datetime import datetime

    from huey.contrib.djhuey import HUEY

    from accounts import tasks

    mfa_token(api)
    api.post_json("/auth/passkey/options")
    tasks.mfa_challenges_purge.call_local()
    assert MfaChallenge.objects.count() == 2, "live challenges stay"

    clock.shift(settings.MFA_LOGIN_TIMEOUT_SECONDS + 1)
    tasks.mfa_challenges_purge.call_local()

    assert not MfaChallenge.objects.exists()
    assert AuditEvent.objects.get(action="retention.mfa_challenges_purged").details == {"count": 2}
    assert "mfa_challenges_purge" in {t.name for t in HUEY.read_periodic(datetime(2026, 1, 1, 5, 23))}
