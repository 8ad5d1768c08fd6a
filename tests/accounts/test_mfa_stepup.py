"""Step-up: for a user with MFA, sensitive changes need the second factor too — `otp` in the body, or a session
whose login used it within the re-auth window. Recovery codes, and social logins of an MFA user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.accounts import test_social_support as fake
from tests.accounts.support import last_mail
from tests.accounts.test_social_support import github_user, google_id_token
from tests.conftest import PASSWORD, assert_error
from tests.support.mfa import mfa_login, totp_code, totp_enroll

social_apps, rsps, google = fake.social_apps, fake.rsps, fake.google
pytestmark = pytest.mark.usefixtures("generous_login_limit")


def _age(access_session_id, minutes=11):
    Session.objects.filter(pk=access_session_id).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_a_recent_multi_factor_login_confirms_changes_on_its_own(api, mfa_user):
    pair = mfa_login(api, mfa_user["secret"])
    r = api.post_json("/me/email", {"new_email": "ada@new.example"}, token=pair["access"])
    assert r.status_code == 202, r.content


def test_an_old_session_needs_password_and_second_factor(api, mfa_user):
    pair = mfa_login(api, mfa_user["secret"])
    _age(pair["session_id"])

    password_only = api.post_json(
        "/me/email", {"new_email": "ada@new.example", "password": PASSWORD}, token=pair["access"]
    )
    body = assert_error(password_only, 403, "second_factor_required")
    assert body["details"] == {"methods": ["totp", "recovery_codes"], "max_age_seconds": 600}
    otp_only = api.post_json(
        "/me/email", {"new_email": "ada@new.example", "otp": "123456"}, token=pair["access"]
    )
    assert_error(otp_only, 403, "reauth_required")

    both = api.post_json(
        "/me/email",
        {"new_email": "ada@new.example", "password": PASSWORD, "otp": mfa_user["recovery_codes"][0]},
        token=pair["access"],
    )
    assert both.status_code == 202, both.content
    assert "you have 9 left" in last_mail("ada@example.com", "recovery code was used").body


def test_a_recent_password_only_session_needs_the_second_factor(api, mfa_user):
    """A session opened before MFA was turned on was not a multi-factor login, however recent."""
    access = mfa_user["tokens"]["access"]
    r = api.post_json("/me/email", {"new_email": "ada@new.example"}, token=access)
    assert_error(r, 403, "second_factor_required")
    ok = api.post_json(
        "/me/email", {"new_email": "ada@new.example", "otp": totp_code(mfa_user["secret"])}, token=access
    )
    assert ok.status_code == 202, ok.content


def test_wrong_otps_count_toward_the_lockout(api, mfa_user, settings):
    access = mfa_user["tokens"]["access"]
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        r = api.post_json("/me/email", {"new_email": "ada@new.example", "otp": "000000"}, token=access)
        assert_error(r, 400, "wrong_code")
    locked = api.post_json(
        "/me/email", {"new_email": "ada@new.example", "otp": totp_code(mfa_user["secret"])}, token=access
    )
    assert_error(locked, 429, "locked")
    reasons = AuditEvent.objects.filter(action="auth.reauth_failed").values_list("details", flat=True)
    assert {d["reason"] for d in reasons} == {"wrong_code", "locked"}
    assert {d["purpose"] for d in reasons} == {"email_change"}


def test_password_change_needs_the_second_factor(api, mfa_user):
    access = mfa_user["tokens"]["access"]
    body = {"current_password": PASSWORD, "new_password": "a-new-long-passphrase-2"}
    assert_error(api.post_json("/me/password", body, token=access), 403, "second_factor_required")
    assert User.objects.get().check_password(PASSWORD)

    ok = api.post_json("/me/password", {**body, "otp": totp_code(mfa_user["secret"])}, token=access)
    assert ok.status_code == 200, ok.content
    # A new password does not turn MFA off: the next login still asks for the second factor.
    assert (
        api.post_json(
            "/auth/token", {"login": "ada@example.com", "password": body["new_password"]}
        ).status_code
        == 202
    )


def test_account_deletion_needs_password_and_second_factor(api, mfa_user):
    pair = mfa_login(api, mfa_user["secret"])
    _age(pair["session_id"])
    refused = api.call("delete", "/me", {"password": PASSWORD}, token=pair["access"])
    assert_error(refused, 403, "second_factor_required")
    assert User.objects.get().deleted_at is None

    done = api.call(
        "delete", "/me", {"password": PASSWORD, "otp": mfa_user["recovery_codes"][1]}, token=pair["access"]
    )
    assert done.status_code == 202, done.content
    assert User.objects.get().deleted_at is not None


def test_regenerating_recovery_codes(api, mfa_user):
    user = mfa_user["user"]
    pair = mfa_login(api, mfa_user["secret"])
    old = mfa_user["recovery_codes"]

    r = api.post_json("/me/mfa/recovery-codes", {}, token=pair["access"])

    assert r.status_code == 201, r.content
    new = r.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditEvent.objects.filter(action="mfa.recovery_codes_generated").latest("id").details == {
        "count": 10,
        "auto": False,
    }
    assert "earlier codes no longer work" in last_mail(user.email, "new recovery codes").body
    assert api.call("get", "/me/mfa", token=pair["access"]).json()["recovery_codes_left"] == 10
    stale = api.post_json(
        "/me/email",
        {"new_email": "x@new.example", "password": PASSWORD, "otp": old[2]},
        token=mfa_user["tokens"]["access"],
    )
    assert_error(stale, 400, "wrong_code")
    fresh = api.post_json(
        "/me/email", {"new_email": "x@new.example", "otp": new[2]}, token=mfa_user["tokens"]["access"]
    )
    assert fresh.status_code == 202


def test_regenerating_without_mfa_is_409(api, user, tokens):
    r = api.post_json("/me/mfa/recovery-codes", {"password": PASSWORD}, token=tokens["access"])
    assert_error(r, 409, "mfa_not_enabled")
    assert not Authenticator.objects.exists()


def test_linking_a_provider_needs_the_second_factor(api, rsps, mfa_user):
    github_user(rsps, emails=[{"email": "ada@example.com", "primary": True, "verified": True}])
    refused = api.post_json(
        "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=mfa_user["tokens"]["access"]
    )
    assert_error(refused, 403, "second_factor_required")
    assert not SocialAccount.objects.exists()

    pair = mfa_login(api, mfa_user["secret"])
    linked = api.post_json(
        "/me/social-accounts/github/link", {"access_token": "gho_valid"}, token=pair["access"]
    )
    assert linked.status_code == 201, linked.content


def test_a_social_login_of_an_mfa_user_takes_the_second_step(api, google, clock):
    first = api.post_json("/auth/social/google", {"id_token": google_id_token()})
    assert first.status_code == 200 and first.json()["user_created"] is True
    # A provider-only user (no password) enables TOTP on the fresh session of that login.
    enrolled = totp_enroll(api, first.json()["access"], password=None)
    clock.step()

    second = api.post_json("/auth/social/google", {"id_token": google_id_token()})

    assert second.status_code == 202, second.content
    challenge = second.json()
    assert challenge["status"] == "mfa_required" and challenge["methods"] == ["totp", "recovery_codes"]
    assert "access" not in challenge
    verified = api.post_json(
        "/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "code": totp_code(enrolled["secret"])}
    )
    assert verified.status_code == 200, verified.content
    session = Session.objects.get(pk=verified.json()["session_id"])
    assert (session.via, session.amr) == ("google", ["fed", "otp", "mfa"])
    assert AuditEvent.objects.filter(action="auth.mfa_challenged").get().details["via"] == "google"
