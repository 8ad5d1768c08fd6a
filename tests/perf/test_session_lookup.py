"""The bearer lookup builds its SQL once (accounts.selectors.session_with_user); it must give what the ORM's
select_related gives, on every database, and its liveness rules must hold through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import selectors
from accounts.models import Profile, Session, User
from tests.conftest import ApiClient, assert_error


def _fields(obj: object) -> dict[str, object]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}  # type: ignore[attr-defined]


@pytest.mark.parametrize("ip", [None, "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "2001:db8:0:1:0:0:0:1"])
def test_same_instances_as_select_related(tokens, user: User, django_assert_num_queries, ip) -> None:
    # Every column type the lookup reads, set: on PostgreSQL the row comes in the binary format, with
    # inet and jsonb sent as the text the ORM reads.
    Profile.objects.filter(user=user).update(bio="hi", birth_date="1815-12-10", website="https://ex.org")
    User.objects.filter(pk=user.pk).update(
        username="ada", first_name="Ada", mfa_methods=["totp", {"k": [1, None]}], last_login=timezone.now()
    )
    Session.objects.filter(pk=tokens["session_id"]).update(
        ip=ip, amr=["pwd", "otp"], rotated_at=timezone.now(), user_agent="Ünïcode/1.0"
    )
    expected = Session.objects.select_related("user", "user__profile").get(pk=tokens["session_id"])
    assert (expected.ip is None) == (ip is None) and expected.user.mfa_methods == ["totp", {"k": [1, None]}]
    with django_assert_num_queries(1):
        got = selectors.session_with_user(session_id=expected.pk)
        assert got is not None
        assert _fields(got) == _fields(expected)
        assert _fields(got.user) == _fields(expected.user)
        assert _fields(got.user.profile) == _fields(expected.user.profile)
        assert got.user.profile.user is got.user  # both sides of the relation cached, no lazy query
    assert got._state.adding is False and got._state.db == "default"


def test_user_without_profile_has_none_cached(tokens, user: User, django_assert_num_queries) -> None:
    Profile.objects.filter(user=user).delete()
    with django_assert_num_queries(1):
        got = selectors.session_with_user(session_id=tokens["session_id"])
        assert got is not None and got.user.pk == user.pk
        with pytest.raises(Profile.DoesNotExist):
            got.user.profile  # noqa: B018


def test_unknown_session_is_none(db: None) -> None:
    import uuid

    assert selectors.session_with_user(session_id=uuid.uuid4()) is None


@pytest.mark.parametrize(
    "change",
    [
        {"session": {"revoked_at": timezone.now()}},
        {"session": {"expires_at": timezone.now() - timedelta(seconds=1)}},
        {"user": {"deleted_at": timezone.now()}},
        {"user": {"is_active": False}},
    ],
    ids=["revoked", "expired", "user_deleted", "user_inactive"],
)
def test_ended_sessions_and_dead_users_are_refused(api: ApiClient, tokens, user: User, change) -> None:
    assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    Session.objects.filter(pk=tokens["session_id"]).update(**change.get("session", {}))
    User.objects.filter(pk=user.pk).update(**change.get("user", {}))
    assert_error(api.call("get", "/me", token=tokens["access"]), 401, "session_revoked")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "session_revoked")


def test_token_of_one_user_naming_another_users_session_is_refused(api: ApiClient, make_user, login) -> None:
    import jwt as pyjwt
    from django.conf import settings

    make_user(email="ada@example.com")
    make_user(email="eve@example.com")
    ada = login("ada@example.com")
    eve = login("eve@example.com")
    claims = pyjwt.decode(eve["access"], options={"verify_signature": False})
    claims["sid"] = ada["session_id"]  # eve's identity, ada's session
    forged = pyjwt.encode(claims, settings.NINJA_JWT["SIGNING_KEY"], algorithm="HS256")
    assert_error(api.call("get", "/me", token=forged), 401, "session_revoked")
