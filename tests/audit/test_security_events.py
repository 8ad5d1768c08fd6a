from __future__ import annotations

from tests.conftest import assert_error


def test_own_events_newest_first(api, user, make_user, login, tokens):
    other = make_user(email="bob@example.com")
    login("bob@example.com")
    r = api.call("get", "/me/security-events", token=tokens["access"])
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"items", "count", "limit", "offset"}
    actions = [item["action"] for item in body["items"]]
    assert actions == ["auth.login"]
    item = body["items"][0]
    assert set(item) == {"id", "created_at", "action", "actor_type", "ip", "user_agent", "details"}
    assert item["actor_type"] == "user" and item["details"]["session_id"] == tokens["session_id"]
    assert str(other.pk) not in r.content.decode()


def test_paginated(api, user, login, tokens):
    for _ in range(3):
        login()
    r = api.call("get", "/me/security-events?limit=2&offset=1", token=tokens["access"])
    body = r.json()
    assert body["count"] == 4 and body["limit"] == 2 and body["offset"] == 1
    ids = [item["id"] for item in body["items"]]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)


def test_bad_paging_and_no_token(api, user, tokens):
    assert_error(
        api.call("get", "/me/security-events?limit=1000", token=tokens["access"]), 422, "validation_error"
    )
    assert_error(
        api.call("get", "/me/security-events?offset=x", token=tokens["access"]), 422, "validation_error"
    )
    assert_error(api.call("get", "/me/security-events"), 401, "not_authenticated")
    assert_error(api.call("get", "/me/security-events", token="garbage"), 401)


def test_revoked_session_cannot_read(api, user, tokens):
    assert api.call("post", "/auth/logout", token=tokens["access"]).status_code == 204
    assert_error(api.call("get", "/me/security-events", token=tokens["access"]), 401)


def test_in_openapi(api):
    doc = api.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/me/security-events"]["get"]
    assert op["operationId"] == "me_security_events_list"
    assert {"200", "401", "422"} <= set(op["responses"])
