"""TOTP through the API: set up (secret, otpauth URI, QR code), confirm with a code computed like an app does,
recovery codes with the first factor, disable with re-authentication; GET /me and /me/mfa tell what is on."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from allauth.mfa.models import Authenticator
from django.utils import timezone

from accounts.models import MfaChallenge, Session, User
from audit.models import AuditEvent
from tests.accounts.support import last_mail
from tests.conftest import PASSWORD, actions, assert_error, outbox_to
from tests.support.mfa import mfa_login, totp_code

pytestmark = pytest.mark.usefixtures("generous_login_limit")


def test_setup_hands_out_a_secret_uri_and_qr_code_and_stores_nothing_enabled(api, user, tokens):
    r = api.post_json("/me/mfa/totp", token=tokens["access"])

    assert r.status_code == 201, r.content
    body = r.json()
    secret = body["secret"]
    assert len(base64.b32decode(secret)) == 20
    uri = urlparse(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/ada@example.com"
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["Custodian"]}
    assert body["qr_code"].startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(body["qr_code"].split(",", 1)[1])
    assert (body["digits"], body["period"]) == (6, 30)
    assert not Authenticator.objects.exists()
    pending = MfaChallenge.objects.get(user=user, kind="totp_setup")
    assert secret not in str(pending.data), "the pending secret is stored encrypted"
    assert actions(subject_id=user.pk)[-1] == "mfa.totp_setup_started"
    user.refresh_from_db()
    assert user.mfa_methods == []


def test_confirm_turns_totp_on_with_recovery_codes_shown_once(api, user, tokens):
    secret = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]

    r = api.post_json(
        "/me/mfa/totp/confirm", {"code": totp_code(secret), "password": PASSWORD}, token=tokens["access"]
    )

    assert r.status_code == 201, r.content
    body = r.json()
    assert body["authenticator"]["type"] == "totp" and body["authenticator"]["passwordless"] is None
    codes = body["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    user.refresh_from_db()
    assert user.mfa_methods == ["totp", "recovery_codes"]
    app = Authenticator.objects.get(user=user, type="totp")
    assert secret not in str(app.data), "the TOTP secret is stored encrypted"
    stored = Authenticator.objects.get(user=user, type="recovery_codes").data
    assert not any(c in str(stored) or c.replace("-", "") in str(stored) for c in codes), (
        "codes stored hashed"
    )
    assert not MfaChallenge.objects.filter(user=user).exists()
    assert actions(subject_id=user.pk)[-3:] == [
        "mfa.totp_setup_started",
        "mfa.recovery_codes_generated",
        "mfa.totp_enabled",
    ]
    message = last_mail(user.email, "two-factor authentication is on")
    assert "authenticator app" in message.body and "recovery codes" in message.body

    me = api.call("get", "/me", token=tokens["access"]).json()
    assert me["mfa"] == {"enabled": True, "methods": ["totp", "recovery_codes"]}
    status = api.call("get", "/me/mfa", token=tokens["access"]).json()
    assert status == {"enabled": True, "methods": ["totp", "recovery_codes"], "recovery_codes_left": 10}
    listed = api.call("get", "/me/mfa/authenticators", token=tokens["access"]).json()
    assert [a["type"] for a in listed["items"]] == ["totp", "recovery_codes"] and listed["count"] == 2
    assert "secret" not in str(listed) and "hashes" not in str(listed)


def test_a_wrong_code_or_no_setup_turns_nothing_on(api, user, tokens):
    none = api.post_json(
        "/me/mfa/totp/confirm", {"code": "123456", "password": PASSWORD}, token=tokens["access"]
    )
    assert_error(none, 409, "mfa_setup_expired")

    secret = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    wrong = str((int(totp_code(secret)) + 1) % 1_000_000).zfill(6)
    r = api.post_json("/me/mfa/totp/confirm", {"code": wrong, "password": PASSWORD}, token=tokens["access"])

    assert_error(r, 400, "wrong_code")
    assert not Authenticator.objects.exists()
    user.refresh_from_db()
    assert user.mfa_methods == []
    assert MfaChallenge.objects.filter(user=user, kind="totp_setup").exists(), (
        "the setup waits for a right code"
    )


def test_a_setup_expires(api, user, tokens, clock, login):
    secret = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    clock.shift(601)
    access = login()["access"]  # the first access token expired meanwhile

    r = api.post_json("/me/mfa/totp/confirm", {"code": totp_code(secret), "password": PASSWORD}, token=access)

    assert_error(r, 409, "mfa_setup_expired")
    assert not Authenticator.objects.exists()


def test_starting_again_replaces_the_secret(api, user, tokens):
    first = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    second = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    assert first != second and MfaChallenge.objects.filter(kind="totp_setup").count() == 1

    old = api.post_json(
        "/me/mfa/totp/confirm", {"code": totp_code(first), "password": PASSWORD}, token=tokens["access"]
    )
    assert_error(old, 400, "wrong_code")
    new = api.post_json(
        "/me/mfa/totp/confirm", {"code": totp_code(second), "password": PASSWORD}, token=tokens["access"]
    )
    assert new.status_code == 201


def test_confirm_needs_a_recent_login_or_the_password(api, user, tokens, clock):
    secret = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    Session.objects.filter(pk=tokens["session_id"]).update(created_at=timezone.now() - timedelta(minutes=11))

    without = api.post_json("/me/mfa/totp/confirm", {"code": totp_code(secret)}, token=tokens["access"])
    assert_error(without, 403, "reauth_required")
    wrong = api.post_json(
        "/me/mfa/totp/confirm",
        {"code": totp_code(secret), "password": "wrong-password-1"},
        token=tokens["access"],
    )
    assert_error(wrong, 400, "wrong_password")
    assert not Authenticator.objects.exists()

    ok = api.post_json(
        "/me/mfa/totp/confirm", {"code": totp_code(secret), "password": PASSWORD}, token=tokens["access"]
    )
    assert ok.status_code == 201


def test_a_recent_login_is_enough_to_confirm(api, user, tokens):
    secret = api.post_json("/me/mfa/totp", token=tokens["access"]).json()["secret"]
    r = api.post_json("/me/mfa/totp/confirm", {"code": totp_code(secret)}, token=tokens["access"])
    assert r.status_code == 201, r.content


def test_setup_is_refused_while_totp_is_on(api, mfa_user):
    r = api.post_json("/me/mfa/totp", token=mfa_user["tokens"]["access"])
    assert_error(r, 409, "totp_already_enabled")


def test_an_unverified_address_gets_no_second_factor(api, make_user):
    from accounts import services

    user = make_user(verified=False)
    _, pair = services.session_open(user=user, via="google")  # a provider login of an unconfirmed address

    r = api.post_json("/me/mfa/totp", token=pair.access)
    assert_error(r, 403, "email_not_verified")
    keys = api.post_json("/me/mfa/webauthn/options", {}, token=pair.access)
    assert_error(keys, 403, "email_not_verified")
    assert not MfaChallenge.objects.exists()


def test_disable_on_a_multi_factor_session_turns_mfa_off(api, mfa_user):
    user = mfa_user["user"]
    pair = mfa_login(api, mfa_user["secret"])
    outbox_before = len(outbox_to(user.email))

    r = api.call("delete", "/me/mfa/totp", {}, token=pair["access"])

    assert r.status_code == 204, r.content
    assert not Authenticator.objects.filter(user=user).exists(), "recovery codes go with the last factor"
    user.refresh_from_db()
    assert user.mfa_methods == []
    event = AuditEvent.objects.filter(action="mfa.totp_disabled").get()
    assert event.details == {"mfa_off": True, "recovery_codes_deleted": True}
    assert len(outbox_to(user.email)) == outbox_before + 1
    assert "no second factor" in last_mail(user.email, "two-factor authentication is off").body
    # A login needs the password only again.
    assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200


def test_disable_on_a_password_only_session_needs_the_second_factor(api, mfa_user, clock):
    """The session mfa_user enrolled from was opened by the password alone."""
    access = mfa_user["tokens"]["access"]

    refused = api.call("delete", "/me/mfa/totp", {"password": PASSWORD}, token=access)
    body = assert_error(refused, 403, "second_factor_required")
    assert body["details"]["methods"] == ["totp", "recovery_codes"]
    assert Authenticator.objects.filter(type="totp").exists()

    wrong = api.call("delete", "/me/mfa/totp", {"password": PASSWORD, "otp": "000000"}, token=access)
    assert_error(wrong, 400, "wrong_code")
    assert AuditEvent.objects.filter(action="auth.reauth_failed").latest("id").details == {
        "reason": "wrong_code",
        "purpose": "mfa_totp_disable",
    }

    ok = api.call(
        "delete", "/me/mfa/totp", {"password": PASSWORD, "otp": totp_code(mfa_user["secret"])}, token=access
    )
    assert ok.status_code == 204, ok.content


def test_disable_without_totp_is_404(api, user, tokens):
    r = api.call("delete", "/me/mfa/totp", {"password": PASSWORD}, token=tokens["access"])
    assert_error(r, 404, "not_found")


def test_bad_input(api, user, tokens):
    access = tokens["access"]
    assert_error(
        api.post_json("/me/mfa/totp/confirm", {"code": "1" * 17}, token=access), 422, "validation_error"
    )
    assert_error(api.post_json("/me/mfa/totp/confirm", {"code": ""}, token=access), 422, "validation_error")
    assert_error(api.post_json("/me/mfa/totp/confirm", {}, token=access), 422, "validation_error")
    assert_error(api.post_json("/me/mfa/totp/confirm", "{not json", token=access), 400, "bad_request")
    assert_error(api.call("delete", "/me/mfa/totp", {"otp": 123456}, token=access), 422, "validation_error")
    assert_error(api.post_json("/me/mfa/totp"), 401, "not_authenticated")
    # Unknown fields are ignored, never applied.
    secret = api.post_json("/me/mfa/totp", token=access).json()["secret"]
    r = api.post_json(
        "/me/mfa/totp/confirm",
        {"code": totp_code(secret), "password": PASSWORD, "type": "webauthn", "user_id": "x"},
        token=access,
    )
    assert r.status_code == 201 and Authenticator.objects.get(type="totp").user_id == user.pk
    assert User.objects.get().mfa_methods == ["totp", "recovery_codes"]


def test_the_admin_shows_authenticators_but_changes_none(api, mfa_user):
    from django.test import Client

    root = User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    admin = Client()
    assert admin.login(username=root.email, password=PASSWORD)
    listed = admin.get("/admin/mfa/authenticator/")
    assert listed.status_code == 200 and b"ada@example.com" in listed.content
    app = Authenticator.objects.get(type="totp")
    page = admin.get(f"/admin/mfa/authenticator/{app.pk}/change/")
    assert page.status_code == 200 and app.data["secret"].encode() not in page.content
    assert admin.post(f"/admin/mfa/authenticator/{app.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.get("/admin/mfa/authenticator/add/").status_code == 403
    assert Authenticator.objects.filter(pk=app.pk).exists()
