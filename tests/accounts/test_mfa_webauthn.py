"""WebAuthn through HTTP with a software authenticator (tests/support/webauthn.py): register security keys and
passkeys, list, rename, remove; a key as the second step of a login; a passkey login on its own."""

from __future__ import annotations

import re

import jwt
import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings

from accounts.models import MfaChallenge, Session
from audit.models import AuditEvent
from core.schemas import NOT_BLANK
from tests.accounts.support import last_mail
from tests.conftest import PASSWORD, actions, assert_error
from tests.support.mfa import authenticator, key_enroll, mfa_login, mfa_token

pytestmark = pytest.mark.usefixtures("generous_login_limit")


def _options(api, access, passwordless=False):
    r = api.post_json("/me/mfa/webauthn/options", {"passwordless": passwordless}, token=access)
    assert r.status_code == 200, r.content
    return r.json()["public_key"]


def test_register_a_security_key_as_the_first_factor(api, user, tokens):
    device = authenticator()
    options = _options(api, tokens["access"])
    assert options["rp"] == {"id": settings.MFA_WEBAUTHN_RP_ID, "name": "Custodian"}
    assert options["user"]["name"] == "ada@example.com"
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"
    credential = device.create(options)

    r = api.post_json(
        "/me/mfa/webauthn",
        {"name": " YubiKey 5C ", "credential": credential, "password": PASSWORD},
        token=tokens["access"],
    )

    assert r.status_code == 201, r.content
    body = r.json()
    key = body["authenticator"]
    assert (key["type"], key["name"], key["passwordless"], key["last_used_at"]) == (
        "webauthn",
        "YubiKey 5C",
        False,
        None,
    )
    assert len(body["recovery_codes"]) == 10
    user.refresh_from_db()
    assert user.mfa_methods == ["webauthn", "recovery_codes"]
    stored = Authenticator.objects.get(type="webauthn")
    assert stored.data["credential"]["id"] == device.id
    assert not MfaChallenge.objects.exists()
    assert actions(subject_id=user.pk)[-3:] == [
        "mfa.webauthn_setup_started",
        "mfa.recovery_codes_generated",
        "mfa.webauthn_added",
    ]
    assert AuditEvent.objects.get(action="mfa.webauthn_added").details == {
        "authenticator_id": stored.pk,
        "name": "YubiKey 5C",
        "passwordless": False,
    }
    message = last_mail(user.email, "a new security key")
    assert "YubiKey 5C" in message.body and "Two-factor authentication is now on" in message.body


def test_a_second_key_brings_no_new_recovery_codes_and_excludes_the_first(api, user, tokens):
    first = authenticator()
    codes = key_enroll(api, tokens["access"], first).json()["recovery_codes"]
    options = _options(api, tokens["access"])
    assert [d["id"] for d in options["excludeCredentials"]] == [first.id]

    # MFA is on now and this session's login used no second factor: adding another needs one (`otp`).
    refused = key_enroll(api, tokens["access"], authenticator(), name="Backup key")
    assert_error(refused, 403, "second_factor_required")
    second = key_enroll(api, tokens["access"], authenticator(), name="Backup key", otp=codes[0])

    assert second.status_code == 201 and second.json()["recovery_codes"] is None
    assert Authenticator.objects.filter(type="recovery_codes").count() == 1
    listed = api.call("get", "/me/mfa/authenticators", token=tokens["access"]).json()["items"]
    assert [a["name"] for a in listed] == ["YubiKey", "Recovery codes", "Backup key"]


def test_refused_registrations_store_nothing(api, user, tokens):
    access = tokens["access"]
    device = authenticator()
    no_setup = api.post_json(
        "/me/mfa/webauthn", {"name": "k", "credential": {"id": "x"}, "password": PASSWORD}, token=access
    )
    assert_error(no_setup, 409, "mfa_setup_expired")

    options = _options(api, access)
    for credential in (
        device.create(options, origin="https://evil.example"),
        {**device.create(options), "rawId": "AAAA"},
        {"id": "x", "type": "public-key", "response": {"attestationObject": "!!", "clientDataJSON": 7}},
        {},
    ):
        r = api.post_json(
            "/me/mfa/webauthn", {"name": "k", "credential": credential, "password": PASSWORD}, token=access
        )
        assert_error(r, 400, "webauthn_invalid")
    # An answer to other options (another start) does not fit the pending ones.
    stale = device.create(options)
    _options(api, access)
    r = api.post_json(
        "/me/mfa/webauthn", {"name": "k", "credential": stale, "password": PASSWORD}, token=access
    )
    assert_error(r, 400, "webauthn_invalid")
    assert not Authenticator.objects.exists()


def test_a_registration_answer_is_single_use(api, user, tokens):
    device = authenticator()
    credential = device.create(_options(api, tokens["access"]))
    body = {"name": "k", "credential": credential, "password": PASSWORD}
    added = api.post_json("/me/mfa/webauthn", body, token=tokens["access"])
    assert added.status_code == 201

    again = api.post_json(
        "/me/mfa/webauthn", {**body, "otp": added.json()["recovery_codes"][0]}, token=tokens["access"]
    )
    assert_error(again, 409, "mfa_setup_expired")
    assert Authenticator.objects.filter(type="webauthn").count() == 1


def test_rename_and_remove(api, user, tokens, make_user, login):
    access = tokens["access"]
    added = key_enroll(api, access, authenticator()).json()
    key_id, codes = added["authenticator"]["id"], added["recovery_codes"]
    assert key_enroll(api, access, authenticator(), name="Backup", otp=codes[0]).status_code == 201

    renamed = api.call("patch", f"/me/mfa/webauthn/{key_id}", {"name": "Desk key"}, token=access)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Desk key"
    # Blank names, NEL (U+0085) among them, are refused, by the document's pattern as by the server.
    for blank in ("   ", "\x85", "\u3000\t"):
        refused = api.call("patch", f"/me/mfa/webauthn/{key_id}", {"name": blank}, token=access)
        assert_error(refused, 422, "validation_error")
        assert not re.search(NOT_BLANK, blank)
    assert Authenticator.objects.get(pk=key_id).data["name"] == "Desk key"
    assert AuditEvent.objects.filter(action="mfa.webauthn_renamed").get().details == {
        "authenticator_id": key_id,
        "name": "Desk key",
    }

    # Someone else's id is 404, for rename and removal.
    make_user(email="eve@example.com")
    eve = login("eve@example.com")["access"]
    assert_error(api.call("patch", f"/me/mfa/webauthn/{key_id}", {"name": "x"}, token=eve), 404, "not_found")
    assert_error(
        api.call("delete", f"/me/mfa/webauthn/{key_id}", {"password": PASSWORD}, token=eve), 404, "not_found"
    )

    # This session's login used no second factor: removal needs one.
    refused = api.call("delete", f"/me/mfa/webauthn/{key_id}", {"password": PASSWORD}, token=access)
    assert_error(refused, 403, "second_factor_required")
    codes_left = Authenticator.objects.get(type="recovery_codes")
    removed = api.call(
        "delete",
        f"/me/mfa/webauthn/{key_id}",
        {"password": PASSWORD, "otp": codes[1]},
        token=access,
    )
    assert removed.status_code == 204, removed.content
    assert list(Authenticator.objects.values_list("type", flat=True).order_by("id")) == [
        "recovery_codes",
        "webauthn",
    ]
    assert Authenticator.objects.get(type="recovery_codes").pk == codes_left.pk
    event = AuditEvent.objects.filter(action="mfa.webauthn_removed").get()
    assert event.details["name"] == "Desk key" and event.details["mfa_off"] is False
    assert "other second factors stay on" in last_mail(user.email, "second factor was removed").body


def test_max_keys(api, user, tokens, settings):
    settings.MFA_WEBAUTHN_MAX_CREDENTIALS = 1
    assert key_enroll(api, tokens["access"], authenticator()).status_code == 201
    r = api.post_json("/me/mfa/webauthn/options", {}, token=tokens["access"])
    assert_error(r, 409, "too_many_authenticators")


def test_a_key_as_the_second_step_of_a_login(api, user, tokens):
    device = authenticator()
    key_enroll(api, tokens["access"], device)

    challenge = mfa_token(api)
    assert challenge["methods"] == ["webauthn", "recovery_codes"]
    options = challenge["webauthn"]
    assert [d["id"] for d in options["allowCredentials"]] == [device.id]
    assert options["rpId"] == settings.MFA_WEBAUTHN_RP_ID

    r = api.post_json(
        "/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "credential": device.get(options)}
    )

    assert r.status_code == 200, r.content
    session = Session.objects.get(pk=r.json()["session_id"])
    assert session.amr == ["pwd", "hwk", "user", "mfa"]
    assert jwt.decode(r.json()["access"], options={"verify_signature": False})["amr"] == session.amr
    assert Authenticator.objects.get(type="webauthn").last_used_at is not None
    assert AuditEvent.objects.filter(action="auth.login").latest("id").details["factor"] == "webauthn"


def test_a_key_answer_that_does_not_verify_counts_toward_the_lockout(api, user, tokens):
    device = authenticator()
    key_enroll(api, tokens["access"], device)
    challenge = mfa_token(api)
    options = challenge["webauthn"]
    answers = [
        device.get(options, origin="https://evil.example"),
        device.get(options, challenge="A" * 43),
        authenticator().get({**options, "allowCredentials": []}),  # a key that is not registered
    ]
    for answer in answers:
        r = api.post_json("/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "credential": answer})
        assert_error(r, 400, "webauthn_invalid")
    failures = AuditEvent.objects.filter(action="auth.login_failed", details__reason="webauthn_refused")
    assert failures.count() == 3
    ok = api.post_json(
        "/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "credential": device.get(options)}
    )
    assert ok.status_code == 200


def test_passkey_login_on_its_own(api, user, tokens):
    device = authenticator()
    added = key_enroll(api, tokens["access"], device, passwordless=True, name="Phone")
    assert added.json()["authenticator"]["passwordless"] is True
    assert "It can log in to your account on its own" in last_mail(user.email, "a new passkey").body

    options = api.post_json("/auth/passkey/options")
    assert options.status_code == 200, options.content
    body = options.json()
    assert body["public_key"]["userVerification"] == "required"
    assert not body["public_key"].get("allowCredentials")

    r = api.post_json(
        "/auth/passkey/verify",
        {"passkey_token": body["passkey_token"], "credential": device.get(body["public_key"])},
    )

    assert r.status_code == 200, r.content
    session = Session.objects.get(pk=r.json()["session_id"])
    assert (session.via, session.amr, session.user_id) == ("passkey", ["hwk", "user", "mfa"], user.pk)
    assert api.call("get", "/me", token=r.json()["access"]).json()["id"] == str(user.pk)

    again = api.post_json(
        "/auth/passkey/verify",
        {"passkey_token": body["passkey_token"], "credential": device.get(body["public_key"])},
    )
    assert_error(again, 401, "challenge_invalid")


def test_passkey_logins_that_fail(api, user, tokens, clock):
    device = authenticator()
    key_enroll(api, tokens["access"], device, passwordless=True)

    def attempt(make_answer, token=None):
        body = api.post_json("/auth/passkey/options").json()
        return api.post_json(
            "/auth/passkey/verify",
            {"passkey_token": token or body["passkey_token"], "credential": make_answer(body["public_key"])},
        )

    stranger = authenticator()
    stranger.user_handle = device.user_handle  # claims to be ada's, but ada never registered it
    assert_error(attempt(stranger.get), 401, "invalid_credentials")
    unknown_user = authenticator()
    unknown_user.user_handle = "AAAAAAAAAAAAAAAAAAAAAA"
    assert_error(attempt(unknown_user.get), 401, "invalid_credentials")
    no_handle = authenticator()
    assert_error(attempt(no_handle.get), 401, "invalid_credentials")
    lazy = authenticator(user_verification=False)
    lazy.key, lazy.credential_id, lazy.user_handle = device.key, device.credential_id, device.user_handle
    assert_error(attempt(lazy.get), 401, "invalid_credentials")  # a passkey login needs user verification
    assert_error(attempt(device.get, token="not-a-token"), 401, "challenge_invalid")
    assert AuditEvent.objects.filter(action="auth.login_failed", details__door="api").count() == 4

    body = api.post_json("/auth/passkey/options").json()
    clock.shift(settings.MFA_LOGIN_TIMEOUT_SECONDS + 1)
    expired = api.post_json(
        "/auth/passkey/verify",
        {"passkey_token": body["passkey_token"], "credential": device.get(body["public_key"])},
    )
    assert_error(expired, 401, "challenge_invalid")
    # Failed passkeys do not lock the account: the password still works.
    assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 202


def test_passkey_bad_input(api):
    assert_error(api.post_json("/auth/passkey/verify", {"passkey_token": "x"}), 422, "validation_error")
    assert_error(api.post_json("/auth/passkey/verify", {"credential": {}}), 422, "validation_error")
    r = api.post_json("/auth/passkey/verify", {"passkey_token": "x", "credential": {"response": "nope"}})
    assert_error(r, 401, "challenge_invalid")
    r = api.post_json(
        "/auth/passkey/verify", {"passkey_token": "x", "credential": {"response": {"userHandle": 5}}}
    )
    assert_error(r, 401, "challenge_invalid")
    assert_error(api.post_json("/auth/passkey/verify", "nope"), 400, "bad_request")


def test_webauthn_bad_input(api, user, tokens):
    access = tokens["access"]
    for flag in ("maybe", "true", 1):
        assert_error(api.post_json("/me/mfa/webauthn/options", {"passwordless": flag}, token=access), 422)
    assert_error(api.post_json("/me/mfa/webauthn", {"name": "", "credential": {}}, token=access), 422)
    assert_error(api.post_json("/me/mfa/webauthn", {"name": "x" * 65, "credential": {}}, token=access), 422)
    assert_error(api.post_json("/me/mfa/webauthn", {"name": "k", "credential": []}, token=access), 422)
    assert_error(api.call("patch", "/me/mfa/webauthn/0", {"name": "k"}, token=access), 422)
    assert_error(api.call("patch", "/me/mfa/webauthn/abc", {"name": "k"}, token=access), 404)
    assert_error(api.call("patch", "/me/mfa/webauthn/99", {"name": ""}, token=access), 422)
    assert_error(
        api.call("delete", "/me/mfa/webauthn/99", {"password": PASSWORD}, token=access), 404, "not_found"
    )
    assert not MfaChallenge.objects.filter(kind="webauthn_setup").exists()


def test_a_passkey_user_can_still_log_in_with_password_and_key_or_code(api, user, tokens):
    device = authenticator()
    codes = key_enroll(api, tokens["access"], device, passwordless=True).json()["recovery_codes"]
    challenge = mfa_token(api)
    r = api.post_json("/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "code": codes[0]})
    assert r.status_code == 200 and Session.objects.get(pk=r.json()["session_id"]).amr == [
        "pwd",
        "otp",
        "mfa",
    ]


def test_totp_and_a_key_together(api, mfa_user):
    access = mfa_login(api, mfa_user["secret"])["access"]
    added = key_enroll(api, access, authenticator(), password=None)
    assert added.status_code == 201 and added.json()["recovery_codes"] is None
    assert api.call("get", "/me", token=access).json()["mfa"]["methods"] == [
        "totp",
        "webauthn",
        "recovery_codes",
    ]
