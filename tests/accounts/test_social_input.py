"""Bad input to the social endpoints: always a 4xx in ErrorOut, no provider call, nothing stored."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import Session, User
from tests.accounts import test_social_support as fake
from tests.accounts.test_social_support import GOOGLE_CLIENT_ID, google_id_token
from tests.conftest import assert_error

social_apps, rsps, google = fake.social_apps, fake.rsps, fake.google


def _untouched(rsps) -> None:
    assert len(rsps.calls) == 0
    assert User.objects.count() == 0 and SocialAccount.objects.count() == 0 and Session.objects.count() == 0


@pytest.mark.parametrize("provider", ["twitter", "GOOGLE", "openid_connect", "apple", "x" * 300])
def test_unknown_provider_is_404(api, rsps, provider):
    assert_error(api.post_json(f"/auth/social/{provider}", {"access_token": "t"}), 404, "unknown_provider")
    _untouched(rsps)


def test_provider_without_credentials_configured_is_404(api, rsps, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"google": {"APP": {"client_id": GOOGLE_CLIENT_ID, "secret": ""}}}

    for provider in ("github", "facebook"):
        assert_error(
            api.post_json(f"/auth/social/{provider}", {"access_token": "t"}), 404, "unknown_provider"
        )
    _untouched(rsps)


@pytest.mark.parametrize(
    ("provider", "body", "fields"),
    [
        ("google", {}, {"id_token"}),
        ("google", {"access_token": "only-google-id-tokens"}, {"id_token"}),
        ("google", {"id_token": ""}, {"id_token"}),
        ("github", {}, {"access_token", "code"}),
        ("github", {"code": "abc"}, {"redirect_uri"}),
        ("github", {"id_token": "x"}, {"access_token", "code"}),
        ("facebook", {}, {"access_token"}),
        ("facebook", {"code": "abc"}, {"access_token"}),
    ],
)
def test_missing_token_is_422_naming_the_field(api, rsps, provider, body, fields):
    r = api.post_json(f"/auth/social/{provider}", body)

    out = assert_error(r, 422, "validation_error")
    assert set(out["details"]["fields"]) == fields, out
    _untouched(rsps)


@pytest.mark.parametrize(
    "body",
    [
        {"id_token": 123},
        {"id_token": ["a"]},
        {"id_token": {"a": 1}},
        {"id_token": True},
        {"id_token": "x" * 9000},
        {"redirect_uri": 5, "id_token": "a.b.c"},
    ],
)
def test_wrong_types_are_422(api, rsps, body):
    assert_error(api.post_json("/auth/social/google", body), 422, "validation_error")
    _untouched(rsps)


@pytest.mark.parametrize("body", [[], "[1]", '"a string"', "42", "null"])
def test_a_body_that_is_not_a_json_object_is_400(api, rsps, body):
    assert_error(api.post_json("/auth/social/google", body), 400, "bad_request")
    _untouched(rsps)


@pytest.mark.parametrize("raw", ['{"id_token": ', "not json", '{"id_token": "a"', b"\xff\xfe"])
def test_malformed_json_is_400(api, rsps, raw):
    r = api.call("post", "/auth/social/google", raw, content_type="application/json")

    assert_error(r, 400, "bad_request")
    _untouched(rsps)


def test_no_body_is_a_4xx(api, rsps):
    r = api.call("post", "/auth/social/google")

    assert 400 <= r.status_code < 500 and set(r.json()) == {"code", "message", "details"}
    _untouched(rsps)


def test_wrong_method_is_405_in_the_error_schema(api, rsps):
    assert_error(api.call("get", "/auth/social/google"), 405, "method_not_allowed")


def test_unknown_fields_are_ignored_never_applied(api, google):
    r = api.post_json(
        "/auth/social/google",
        {
            "id_token": google_id_token(),
            "is_staff": True,
            "email": "boss@example.com",
            "email_verified": True,
        },
    )

    assert r.status_code == 200, r.content
    user = User.objects.get()
    assert (user.email, user.is_staff, user.is_superuser) == ("gina@example.com", False, False)


def test_link_bad_input(api, rsps, user, tokens):
    access = tokens["access"]
    assert_error(
        api.call("post", "/me/social-accounts/github/link", {}, token=access), 422, "validation_error"
    )
    assert_error(
        api.call("post", "/me/social-accounts/github/link", {"access_token": 1}, token=access),
        422,
        "validation_error",
    )
    assert_error(
        api.call(
            "post", "/me/social-accounts/github/link", "{oops", token=access, content_type="application/json"
        ),
        400,
        "bad_request",
    )
    assert_error(
        api.call("post", "/me/social-accounts/myspace/link", {"access_token": "t"}, token=access), 404
    )
    assert_error(
        api.call("post", "/me/social-accounts/github/link", {"access_token": "t"}, token="garbage"), 401
    )
    assert len(rsps.calls) == 0
    assert SocialAccount.objects.count() == 0
