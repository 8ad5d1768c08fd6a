from __future__ import annotations

from datetime import date, timedelta

import pytest

from accounts.models import Profile
from tests.conftest import actions, assert_error

FULL = {
    "first_name": "Ada",
    "last_name": "King",
    "username": "countess",
    "phone": "+44 20 7946 0000",
    "birth_date": "1915-12-10",
    "website": "https://github.com/ada",
    "bio": "Analyst of engines.",
    "locale": "en-GB",
}


def patch(api, token, body):
    return api.call("patch", "/me", body, token=token)


def test_get_me_has_every_profile_field(api, user, tokens):
    body = api.call("get", "/me", token=tokens["access"]).json()
    assert set(body["profile"]) == {
        "phone",
        "birth_date",
        "website",
        "bio",
        "locale",
        "avatar_url",
        "avatar_thumbnail_url",
    }


def test_patch_sets_every_field_and_audits_once(api, user, tokens):
    response = patch(api, tokens["access"], FULL)
    assert response.status_code == 200, response.content
    body = api.call("get", "/me", token=tokens["access"]).json()
    assert body["username"] == "countess" and body["first_name"] == "Ada"
    profile = body["profile"]
    for field in ("phone", "birth_date", "website", "bio", "locale"):
        assert profile[field] == FULL[field]
    assert actions(action="user.updated") == ["user.updated"]
    from audit.models import AuditEvent

    assert AuditEvent.objects.get(action="user.updated").details["fields"] == sorted(FULL)


def test_patch_answers_what_was_saved(api, user, tokens):
    """The answer of PATCH /me carries the values just saved, not the profile the bearer check had loaded
    with the user before the change."""
    first = patch(api, tokens["access"], FULL)
    assert first.status_code == 200, first.content
    for field in ("phone", "birth_date", "website", "bio", "locale"):
        assert first.json()["profile"][field] == FULL[field], field

    second = patch(
        api, tokens["access"], {"bio": "Second thoughts.", "locale": "fr", "first_name": "Augusta"}
    )

    body = second.json()
    assert body["profile"]["bio"] == "Second thoughts." and body["profile"]["locale"] == "fr"
    assert body["first_name"] == "Augusta" and body["profile"]["phone"] == FULL["phone"]
    assert body == api.call("get", "/me", token=tokens["access"]).json()
    assert Profile.objects.get(user=user).bio == "Second thoughts."


def test_patch_is_partial_and_null_clears(api, user, tokens):
    patch(api, tokens["access"], FULL)
    response = patch(api, tokens["access"], {"bio": None, "birth_date": None, "first_name": None})
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(user=user)
    assert profile.bio == "" and profile.birth_date is None and profile.phone == FULL["phone"]
    user.refresh_from_db()
    assert user.first_name == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phone", "call me maybe"),
        ("phone", "+1"),
        ("website", "javascript:alert(1)"),
        ("website", "ftp://example.com/x"),
        ("website", "not a url"),
        ("birth_date", (date.today() + timedelta(days=1)).isoformat()),
        ("birth_date", "1899-12-31"),
        ("birth_date", "10/12/1915"),
        ("birth_date", 123),
        ("birth_date", 0),
        ("birth_date", 86400),
        ("birth_date", True),
        ("locale", "english please"),
        ("locale", "x" * 17),
        ("bio", "b" * 2001),
        ("bio", ["a", "list"]),
        ("phone", 5551234),
    ],
)
def test_bad_profile_values_are_422_per_field_and_change_nothing(api, user, tokens, field, value):
    body = assert_error(patch(api, tokens["access"], {field: value, "first_name": "Changed"}), 422)
    assert field in body["details"]["fields"], body
    user.refresh_from_db()
    assert user.first_name == ""
    assert Profile.objects.get(user=user).phone == ""
    assert actions(action="user.updated") == []


def test_unknown_and_protected_fields_are_ignored(api, user, tokens):
    response = patch(
        api,
        tokens["access"],
        {
            "bio": "hi",
            "is_staff": True,
            "email": "eve@example.com",
            "id": "00000000-0000-0000-0000-000000000000",
            "avatar": "../../etc/passwd",
            "avatar_url": "https://evil.example/x.png",
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    profile = Profile.objects.get(user=user)
    assert not user.is_staff and user.email == "ada@example.com"
    assert profile.bio == "hi" and profile.avatar == ""


def test_malformed_json_is_400(api, user, tokens):
    assert_error(api.call("patch", "/me", "{bio:", token=tokens["access"]), 400)
