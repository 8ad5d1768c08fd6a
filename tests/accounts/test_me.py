from __future__ import annotations

from accounts.models import User
from tests.conftest import ApiClient, actions, assert_error


def test_get_me(api: ApiClient, tokens, user) -> None:
    r = api.call("get", "/me", token=tokens["access"])
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == str(user.pk) and body["email"] == user.email and body["email_verified"] is True
    assert body["profile"]["bio"] == ""


def test_get_me_costs_at_most_two_queries(api: ApiClient, tokens, django_assert_max_num_queries) -> None:
    api.call("get", "/me", token=tokens["access"])  # warm: last_seen_at touch happens at most once a minute
    with django_assert_max_num_queries(2):
        assert api.call("get", "/me", token=tokens["access"]).status_code == 200


def test_get_me_is_one_query_when_session_recently_touched(
    api: ApiClient, tokens, django_assert_num_queries
) -> None:
    api.call("get", "/me", token=tokens["access"])
    with django_assert_num_queries(1):
        api.call("get", "/me", token=tokens["access"])


def test_patch_me_names_and_username(api: ApiClient, tokens, user) -> None:
    r = api.call(
        "patch",
        "/me",
        {"first_name": " Ada ", "last_name": "King", "username": "countess"},
        token=tokens["access"],
    )
    assert r.status_code == 200, r.content
    assert r.json()["first_name"] == "Ada" and r.json()["username"] == "countess"
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.username) == ("Ada", "King", "countess")
    assert actions(subject_id=user.pk)[-1] == "user.updated"
    # a no-op PATCH writes nothing
    api.call("patch", "/me", {"first_name": "Ada"}, token=tokens["access"])
    assert actions(subject_id=user.pk).count("user.updated") == 1
    # clearing the username
    assert api.call("patch", "/me", {"username": ""}, token=tokens["access"]).json()["username"] is None


def test_patch_me_ignores_unknown_and_protected_fields(api: ApiClient, tokens, user) -> None:
    r = api.call(
        "patch",
        "/me",
        {
            "is_staff": True,
            "is_superuser": True,
            "id": "00000000-0000-0000-0000-000000000000",
            "email": "evil@example.com",
            "email_verified_at": None,
            "deleted_at": "2020-01-01T00:00:00Z",
            "password": "x",
            "first_name": "Ada",
        },
        token=tokens["access"],
    )
    assert r.status_code == 200
    fresh = User.objects.get(pk=user.pk)
    assert not fresh.is_staff and not fresh.is_superuser and fresh.email == user.email
    assert fresh.email_verified_at is not None and fresh.deleted_at is None and fresh.first_name == "Ada"
    assert fresh.password == user.password


def test_patch_me_username_taken_and_invalid(api: ApiClient, make_user, login) -> None:
    make_user("ada@example.com")
    make_user("bob@example.com", username="bob")
    ada = login("ada@example.com")
    assert_error(api.call("patch", "/me", {"username": "BOB"}, token=ada["access"]), 409, "username_taken")
    body = assert_error(
        api.call("patch", "/me", {"username": "a b"}, token=ada["access"]), 422, "validation_error"
    )
    assert "username" in body["details"]["fields"]
    assert_error(api.call("patch", "/me", {"username": "x@y"}, token=ada["access"]), 422, "validation_error")
    assert_error(api.call("patch", "/me", {"first_name": "x" * 151}, token=ada["access"]), 422)
    assert User.objects.get(email="ada@example.com").username is None
