from __future__ import annotations

import uuid

from accounts.models import Session
from tests.conftest import ApiClient, actions, assert_error


def test_logout_kills_the_access_token_on_the_next_request(api: ApiClient, tokens, user) -> None:
    assert api.call("get", "/me", token=tokens["access"]).status_code == 200
    r = api.call("post", "/auth/logout", token=tokens["access"])
    assert r.status_code == 204 and r.content == b""
    assert_error(api.call("get", "/me", token=tokens["access"]), 401, "session_revoked")
    assert_error(api.post_json("/auth/token/refresh", {"refresh": tokens["refresh"]}), 401, "session_revoked")
    assert Session.objects.get(pk=tokens["session_id"]).revoke_reason == "logout"
    assert actions(subject_id=user.pk) == ["auth.login", "session.revoked"]


def test_logout_all_revokes_every_session(api: ApiClient, user, login) -> None:
    a, b, c = login(), login(), login()
    assert api.call("post", "/auth/logout-all", token=a["access"]).status_code == 204
    for pair in (a, b, c):
        assert_error(api.call("get", "/me", token=pair["access"]), 401, "session_revoked")
    assert set(Session.objects.values_list("revoke_reason", flat=True)) == {"logout_all"}
    assert actions(subject_id=user.pk)[-1] == "session.revoked_all"


def test_logout_all_keep_current(api: ApiClient, user, login) -> None:
    a, b = login(), login()
    assert api.call("post", "/auth/logout-all?keep_current=true", token=a["access"]).status_code == 204
    assert api.call("get", "/me", token=a["access"]).status_code == 200
    assert_error(api.call("get", "/me", token=b["access"]), 401, "session_revoked")


def test_sessions_list_and_revoke_one(api: ApiClient, user, login) -> None:
    a, b = login(), login()
    r = api.call("get", "/me/sessions", token=a["access"])
    assert r.status_code == 200
    page = r.json()
    assert page["count"] == 2 and page["limit"] == 20 and page["offset"] == 0
    assert {s["id"] for s in page["items"]} == {a["session_id"], b["session_id"]}
    assert [s["current"] for s in page["items"] if s["id"] == a["session_id"]] == [True]
    assert "refresh" not in r.content.decode() and "hash" not in r.content.decode()
    assert api.call("delete", f"/me/sessions/{b['session_id']}", token=a["access"]).status_code == 204
    assert_error(api.call("get", "/me", token=b["access"]), 401, "session_revoked")
    assert api.call("get", "/me", token=a["access"]).status_code == 200
    assert api.call("get", "/me/sessions", token=a["access"]).json()["count"] == 1
    ended = api.call("get", "/me/sessions?include_ended=true", token=a["access"]).json()
    assert ended["count"] == 2
    assert actions(subject_id=user.pk) == ["auth.login", "auth.login", "session.revoked"]


def test_sessions_pagination_has_a_hard_maximum(api: ApiClient, tokens) -> None:
    assert_error(api.call("get", "/me/sessions?limit=1000", token=tokens["access"]), 422, "validation_error")
    assert_error(api.call("get", "/me/sessions?offset=-1", token=tokens["access"]), 422, "validation_error")
    assert api.call("get", "/me/sessions?limit=1&offset=0", token=tokens["access"]).json()["limit"] == 1


def test_another_users_session_id_is_404_and_untouched(api: ApiClient, make_user, login) -> None:
    make_user("ada@example.com")
    make_user("bob@example.com")
    ada, bob = login("ada@example.com"), login("bob@example.com")
    assert_error(
        api.call("delete", f"/me/sessions/{bob['session_id']}", token=ada["access"]), 404, "not_found"
    )
    assert_error(api.call("delete", f"/me/sessions/{uuid.uuid4()}", token=ada["access"]), 404, "not_found")
    assert api.call("get", "/me", token=bob["access"]).status_code == 200
    assert Session.objects.filter(revoked_at__isnull=False).count() == 0


def test_revoking_an_ended_session_again_changes_nothing(api: ApiClient, user, login) -> None:
    a, b = login(), login()
    api.call("delete", f"/me/sessions/{b['session_id']}", token=a["access"])
    api.call("delete", f"/me/sessions/{b['session_id']}", token=a["access"])
    assert actions(action="session.revoked") == ["session.revoked"]
