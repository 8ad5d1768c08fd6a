"""POST /auth/social/{provider}: Google id_token, GitHub token or code, Facebook token; providers faked at the
HTTP level with `responses`."""

from __future__ import annotations

import jwt
import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from responses import matchers

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.accounts import test_social_support as fake
from tests.accounts.test_social_support import (
    FACEBOOK_SECRET,
    GITHUB_APP_TOKEN_URL,
    GITHUB_CLIENT_ID,
    GITHUB_EMAILS_URL,
    GITHUB_SECRET,
    GITHUB_TOKEN_URL,
    GITHUB_USER_URL,
    GOOGLE_JWKS_URL,
    GRAPH,
    facebook_user,
    github_app_token,
    github_user,
    google_id_token,
    query,
    rsa_key,
)
from tests.conftest import actions, assert_error, outbox_to

# The fake providers' fixtures, bound here so pytest finds them.
social_apps, rsps, google = fake.social_apps, fake.rsps, fake.google


def _nothing_stored() -> None:
    assert User.objects.count() == 0
    assert SocialAccount.objects.count() == 0
    assert Session.objects.count() == 0


# --- Google ---------------------------------------------------------------------------------------------


def test_google_first_login_creates_a_verified_user_without_password(api, google):
    r = api.post_json("/auth/social/google", {"id_token": google_id_token()})

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["user_created"] is True and body["token_type"] == "Bearer"
    user = User.objects.get()
    assert user.email == "gina@example.com" and (user.first_name, user.last_name) == ("Gina", "Gauss")
    assert user.email_verified
    assert not user.has_usable_password()
    account = SocialAccount.objects.get()
    assert (account.user_id, account.provider, account.uid) == (user.pk, "google", "g-1001")
    session = Session.objects.get()
    assert str(session.pk) == body["session_id"] and session.via == "google"
    assert actions(subject_id=user.pk) == ["user.registered", "auth.login"]
    registered = AuditEvent.objects.get(action="user.registered")
    assert registered.details["via"] == "google" and registered.details["social_account_id"] == account.pk
    assert AuditEvent.objects.get(action="auth.login").details["via"] == "google"
    assert [m.subject for m in outbox_to("gina@example.com")] == ["Welcome to Custodian"]
    me = api.call("get", "/me", token=body["access"])
    assert me.status_code == 200 and me.json()["id"] == str(user.pk)


def test_google_second_login_maps_to_the_same_user(api, google):
    first = api.post_json("/auth/social/google", {"id_token": google_id_token()}).json()
    mail.outbox.clear()

    r = api.post_json("/auth/social/google", {"id_token": google_id_token(email="renamed@example.com")})

    assert r.status_code == 200, r.content
    assert r.json()["user_created"] is False
    assert r.json()["session_id"] != first["session_id"]
    assert User.objects.count() == 1 and SocialAccount.objects.count() == 1
    assert Session.objects.filter(user=User.objects.get(), via="google").count() == 2
    # The identity is the provider's uid; the address the provider reports now does not move the login.
    assert User.objects.get().email == "gina@example.com"
    assert SocialAccount.objects.get().extra_data["email"] == "renamed@example.com"
    assert actions() == ["user.registered", "auth.login", "auth.login"]
    assert mail.outbox == []


def test_google_forged_signature_is_rejected(api, google):
    forged = google_id_token(signing_key=rsa_key("attacker"))

    assert_error(api.post_json("/auth/social/google", {"id_token": forged}), 400, "invalid_provider_token")
    _nothing_stored()


def test_google_wrong_audience_is_rejected(api, google):
    token = google_id_token(aud="someone-else.apps.googleusercontent.com")

    assert_error(api.post_json("/auth/social/google", {"id_token": token}), 400, "invalid_provider_token")
    _nothing_stored()


def test_google_expired_or_foreign_issuer_or_garbage_is_rejected(api, google):
    for token in (
        google_id_token(expires_in=-60),
        google_id_token(iss="https://evil.example.com"),
        "not-a-jwt",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    ):
        assert_error(api.post_json("/auth/social/google", {"id_token": token}), 400, "invalid_provider_token")
    _nothing_stored()


def test_google_token_signed_with_hs256_over_the_public_key_is_rejected(api, google):
    # Algorithm confusion: the header's alg is never trusted, RS256 is pinned.
    payload = jwt.decode(google_id_token(), options={"verify_signature": False})
    forged = jwt.encode(
        payload,
        "a-public-key-misused-as-an-hmac-secret-0123456789",
        algorithm="HS256",
        headers={"kid": "test-key-1"},
    )

    assert_error(api.post_json("/auth/social/google", {"id_token": forged}), 400, "invalid_provider_token")
    _nothing_stored()


def test_google_unknown_key_id_refetches_the_keys_once_then_rejects(api, google):
    token = google_id_token(kid="rotated-away")

    assert_error(api.post_json("/auth/social/google", {"id_token": token}), 400, "invalid_provider_token")
    assert [c.request.url for c in google.calls] == [GOOGLE_JWKS_URL, GOOGLE_JWKS_URL]


def test_google_keys_are_cached_between_logins(api, google):
    api.post_json("/auth/social/google", {"id_token": google_id_token()})
    api.post_json("/auth/social/google", {"id_token": google_id_token()})

    assert len(google.calls) == 1


def test_google_unverified_address_creates_an_unverified_user_and_mails_a_verification_link(api, google):
    r = api.post_json("/auth/social/google", {"id_token": google_id_token(email_verified=False)})

    assert r.status_code == 200, r.content
    user = User.objects.get()
    assert not user.email_verified
    assert AuditEvent.objects.get(action="user.registered").details["email_verified"] is False
    assert [m.subject for m in outbox_to("gina@example.com")] != []
    assert "Welcome" not in outbox_to("gina@example.com")[0].subject


def test_google_keys_endpoint_failing_is_502_never_500(api, rsps):
    rsps.get(GOOGLE_JWKS_URL, status=500, body="oops")

    body = assert_error(api.post_json("/auth/social/google", {"id_token": google_id_token()}), 502)
    assert body["code"] == "provider_unavailable"
    _nothing_stored()


def test_google_keys_endpoint_timing_out_is_502_and_calls_carry_the_timeout(api, rsps):
    rsps.get(GOOGLE_JWKS_URL, body=requests.exceptions.ReadTimeout("slow"))

    assert_error(
        api.post_json("/auth/social/google", {"id_token": google_id_token()}), 502, "provider_unavailable"
    )
    assert rsps.calls[0].request.req_kwargs["timeout"] == 3.5
    _nothing_stored()


def test_google_keys_endpoint_answering_garbage_is_502(api, rsps):
    rsps.get(GOOGLE_JWKS_URL, body="<html>maintenance</html>", status=200)

    assert_error(
        api.post_json("/auth/social/google", {"id_token": google_id_token()}), 502, "provider_unavailable"
    )


# --- GitHub ---------------------------------------------------------------------------------------------


def test_github_access_token_creates_user_from_primary_verified_email(api, rsps):
    github_user(
        rsps,
        emails=[
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octo@example.com", "primary": True, "verified": True},
        ],
    )

    r = api.post_json("/auth/social/github", {"access_token": "gho_valid"})

    assert r.status_code == 200, r.content
    user = User.objects.get()
    assert user.email == "octo@example.com" and user.email_verified and not user.has_usable_password()
    assert (user.first_name, user.last_name) == ("Octo", "Cat")
    assert SocialAccount.objects.get().uid == "4242"
    assert "emails" not in SocialAccount.objects.get().extra_data
    assert [c.request.url for c in rsps.calls] == [GITHUB_APP_TOKEN_URL, GITHUB_USER_URL, GITHUB_EMAILS_URL]
    assert all(c.request.req_kwargs["timeout"] == 3.5 for c in rsps.calls)

    again = api.post_json("/auth/social/github", {"access_token": "gho_valid"})
    assert again.status_code == 200 and again.json()["user_created"] is False
    assert User.objects.count() == 1


def test_github_unverified_primary_email_gives_unverified_user(api, rsps):
    github_user(rsps, emails=[{"email": "octo@example.com", "primary": True, "verified": False}])

    assert api.post_json("/auth/social/github", {"access_token": "gho_valid"}).status_code == 200
    assert not User.objects.get().email_verified


def test_github_code_is_exchanged_server_side(api, rsps):
    rsps.post(
        GITHUB_TOKEN_URL,
        json={"access_token": "gho_valid", "token_type": "bearer", "scope": "user:email"},
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "client_id": GITHUB_CLIENT_ID,
                    "client_secret": GITHUB_SECRET,
                    "code": "code-123",
                    "redirect_uri": "https://app.example.com/cb",
                }
            ),
            matchers.header_matcher({"Accept": "application/json"}),
        ],
    )
    github_user(rsps, app_check=False)

    r = api.post_json(
        "/auth/social/github", {"code": "code-123", "redirect_uri": "https://app.example.com/cb"}
    )

    assert r.status_code == 200, r.content
    assert User.objects.get().email == "octo@example.com"
    # A token we redeemed with our own secret is ours: no application-token check.
    assert [c.request.url for c in rsps.calls] == [GITHUB_TOKEN_URL, GITHUB_USER_URL, GITHUB_EMAILS_URL]


def test_github_bad_code_is_400(api, rsps):
    rsps.post(GITHUB_TOKEN_URL, json={"error": "bad_verification_code", "error_description": "expired"})

    r = api.post_json("/auth/social/github", {"code": "spent", "redirect_uri": "https://app.example.com/cb"})

    assert_error(r, 400, "invalid_provider_token")
    _nothing_stored()


def test_github_code_exchange_outage_is_502(api, rsps):
    rsps.post(GITHUB_TOKEN_URL, status=503)

    r = api.post_json("/auth/social/github", {"code": "c", "redirect_uri": "https://app.example.com/cb"})

    assert_error(r, 502, "provider_unavailable")


def test_github_rejected_token_is_400(api, rsps):
    # Ours by the application check, but revoked by the time /user is asked.
    github_app_token(rsps, token="gho_bad")
    rsps.get(GITHUB_USER_URL, status=401, json={"message": "Bad credentials"})

    assert_error(
        api.post_json("/auth/social/github", {"access_token": "gho_bad"}), 400, "invalid_provider_token"
    )
    _nothing_stored()


def test_github_500_and_timeouts_are_502(api, rsps):
    github_app_token(rsps, token="t")
    rsps.get(GITHUB_USER_URL, status=500)
    assert_error(api.post_json("/auth/social/github", {"access_token": "t"}), 502, "provider_unavailable")

    rsps.replace("GET", GITHUB_USER_URL, body=requests.exceptions.ConnectTimeout())
    assert_error(api.post_json("/auth/social/github", {"access_token": "t"}), 502, "provider_unavailable")

    rsps.replace("GET", GITHUB_USER_URL, json={"id": 1, "login": "x", "email": None})
    rsps.get(GITHUB_EMAILS_URL, status=502)
    assert_error(api.post_json("/auth/social/github", {"access_token": "t"}), 502, "provider_unavailable")
    _nothing_stored()


def test_github_without_any_email_is_400_and_creates_nothing(api, rsps):
    github_app_token(rsps, token="t")
    rsps.get(GITHUB_USER_URL, json={"id": 9, "login": "ghost", "email": None})
    rsps.get(GITHUB_EMAILS_URL, status=404)

    assert_error(api.post_json("/auth/social/github", {"access_token": "t"}), 400, "provider_email_missing")
    _nothing_stored()


def test_github_token_of_another_app_is_refused(api, rsps, make_user):
    """A token GitHub issued to another OAuth app (or a personal access token) for the GitHub user linked to
    an account must not log into that account, although GitHub's /user answers to it."""
    owner = make_user(email="octo@example.com")
    SocialAccount.objects.create(user=owner, provider="github", uid="4242", extra_data={})
    github_user(rsps, token="gho_other_app", app_check=False)
    github_app_token(rsps, token="gho_other_app", client_id="someone-elses-client-id")

    r = api.post_json("/auth/social/github", {"access_token": "gho_other_app"})

    assert_error(r, 400, "invalid_provider_token")
    assert not Session.objects.exists()
    assert [c.request.url for c in rsps.calls] == [GITHUB_APP_TOKEN_URL]


@pytest.mark.parametrize("status", [404, 422])
def test_github_token_unknown_to_our_app_is_400(api, rsps, status):
    github_user(rsps, token="ghp_personal", app_check=False)
    github_app_token(rsps, token="ghp_personal", status=status)

    assert_error(
        api.post_json("/auth/social/github", {"access_token": "ghp_personal"}), 400, "invalid_provider_token"
    )
    _nothing_stored()
    assert len(rsps.calls) == 1


def test_github_app_check_outage_is_502(api, rsps):
    github_user(rsps, token="gho_valid", app_check=False)
    for answer in (
        {"status": 500},
        {"status": 503},
        {"status": 401},  # our own client secret refused: not the caller's fault
        {"body": requests.exceptions.ReadTimeout()},
        {"body": "not json"},
    ):
        rsps.upsert("POST", GITHUB_APP_TOKEN_URL, **answer)
        assert_error(
            api.post_json("/auth/social/github", {"access_token": "gho_valid"}), 502, "provider_unavailable"
        )
    _nothing_stored()


def test_github_link_refuses_a_token_of_another_app(api, rsps, make_user, login):
    make_user()
    access = login()["access"]
    github_user(rsps, token="gho_other_app", app_check=False)
    github_app_token(rsps, token="gho_other_app", client_id="someone-elses-client-id")

    r = api.call("post", "/me/social-accounts/github/link", {"access_token": "gho_other_app"}, token=access)

    assert_error(r, 400, "invalid_provider_token")
    assert not SocialAccount.objects.exists()


# --- Facebook -------------------------------------------------------------------------------------------


def test_facebook_token_is_inspected_and_me_called_with_appsecret_proof(api, rsps):
    facebook_user(rsps)

    r = api.post_json("/auth/social/facebook", {"access_token": "fb-user-token"})

    assert r.status_code == 200, r.content
    user = User.objects.get()
    assert user.email == "fiona@example.com" and not user.has_usable_password()
    # allauth does not take Facebook's word for the address (FACEBOOK_EMAIL_VERIFIED can change that).
    assert not user.email_verified
    assert SocialAccount.objects.get().uid == "fb-777"
    urls = [c.request.url.split("?")[0] for c in rsps.calls]
    assert urls == [f"{GRAPH}/oauth/access_token", f"{GRAPH}/debug_token", f"{GRAPH}/me"]
    assert query(rsps.calls[0])["client_secret"] == [FACEBOOK_SECRET]


def test_facebook_trusted_email_setting_marks_the_address_verified(api, rsps, settings):
    settings.SOCIALACCOUNT_PROVIDERS["facebook"]["VERIFIED_EMAIL"] = True
    facebook_user(rsps)

    assert api.post_json("/auth/social/facebook", {"access_token": "fb-user-token"}).status_code == 200
    assert User.objects.get().email_verified


def test_facebook_invalid_or_foreign_app_token_is_400(api, rsps):
    facebook_user(rsps, valid=False)
    assert_error(
        api.post_json("/auth/social/facebook", {"access_token": "fb-user-token"}),
        400,
        "invalid_provider_token",
    )

    rsps.reset()
    facebook_user(rsps, app_id="another-app")
    assert_error(
        api.post_json("/auth/social/facebook", {"access_token": "fb-user-token"}),
        400,
        "invalid_provider_token",
    )
    _nothing_stored()


def test_facebook_graph_outage_is_502(api, rsps):
    rsps.get(f"{GRAPH}/oauth/access_token", json={"access_token": "fb-app-token"})
    rsps.get(f"{GRAPH}/debug_token", status=500, json={"error": {"message": "down"}})

    assert_error(api.post_json("/auth/social/facebook", {"access_token": "x"}), 502, "provider_unavailable")

    rsps.replace("GET", f"{GRAPH}/debug_token", body=requests.exceptions.ReadTimeout())
    assert_error(api.post_json("/auth/social/facebook", {"access_token": "x"}), 502, "provider_unavailable")
    _nothing_stored()


def test_github_email_too_long_for_an_account_is_treated_as_missing(api, rsps):
    # allauth drops addresses longer than an EmailField holds (254) before we see them.
    long_email = "o" * 60 + "@" + ".".join(["d" * 60] * 4) + ".com"
    assert 254 < len(long_email) <= 320
    github_user(rsps, emails=[{"email": long_email, "primary": True, "verified": True}])

    assert_error(
        api.post_json("/auth/social/github", {"access_token": "gho_valid"}), 400, "provider_email_missing"
    )
    _nothing_stored()


def test_social_login_shares_the_per_ip_login_limit(api, google, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_ip": "2/min"}
    for _ in range(2):
        assert api.post_json("/auth/social/google", {"id_token": google_id_token()}).status_code == 200
    r = api.post_json("/auth/social/google", {"id_token": google_id_token()})
    body = assert_error(r, 429, "rate_limited")
    assert int(r["Retry-After"]) >= 1 and body["details"]["retry_after"] >= 1
    assert Session.objects.count() == 2
