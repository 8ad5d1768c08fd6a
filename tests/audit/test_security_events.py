from __future__ import annotations

from tests.conftest import PASSWORD, assert_error


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


STAFF_ORIGIN = {"REMOTE_ADDR": "203.0.113.77", "HTTP_USER_AGENT": "StaffDesk/9.1 (console)"}
USER_ORIGIN = {"REMOTE_ADDR": "198.51.100.5", "HTTP_USER_AGENT": "UserPhone/2.0"}


def _staff_forces_logout(user, make_user):
    from tests.console.conftest import client_for, with_roles

    staff = with_roles(make_user(email="staff@example.com", is_staff=True), "Support")
    response = client_for(staff, **STAFF_ORIGIN).post(f"/console/users/{user.pk}/logout-all/")
    assert response.status_code in (200, 302), response.status_code
    return staff


def test_staff_origin_is_hidden_from_the_user(api, user, make_user):
    _staff_forces_logout(user, make_user)
    access = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}, **USER_ORIGIN).json()[
        "access"
    ]

    r = api.call("get", "/me/security-events", token=access, **USER_ORIGIN)

    items = {item["action"]: item for item in r.json()["items"]}
    by_staff = items["session.revoked_all"]
    assert by_staff["actor_type"] == "staff"
    assert by_staff["ip"] is None and by_staff["user_agent"] == ""
    # The user's own events keep where they came from.
    assert items["auth.login"]["ip"] == USER_ORIGIN["REMOTE_ADDR"]
    assert items["auth.login"]["user_agent"] == USER_ORIGIN["HTTP_USER_AGENT"]
    text = r.content.decode()
    assert STAFF_ORIGIN["REMOTE_ADDR"] not in text and "StaffDesk" not in text


def test_staff_origin_is_hidden_from_the_users_export(api, user, make_user):
    import json

    from django.core import mail

    from tests.gdpr.helpers import body, token_from, verify_zip

    staff = _staff_forces_logout(user, make_user)
    access = api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}, **USER_ORIGIN).json()[
        "access"
    ]
    api.call("post", "/gdpr/requests", {"type": "export"}, token=access, **USER_ORIGIN)

    archive = body(api.call("get", f"/gdpr/exports/{token_from(mail.outbox[-1].body)}"))

    _, files = verify_zip(archive)
    events = [json.loads(line) for line in files["audit_events.jsonl"].splitlines()]
    by_staff = next(e for e in events if e["action"] == "session.revoked_all")
    assert by_staff["actor"] == "staff" and by_staff["ip"] is None and by_staff["user_agent"] == ""
    login = next(e for e in events if e["action"] == "auth.login")
    assert login["actor"] == "you" and login["ip"] == USER_ORIGIN["REMOTE_ADDR"]
    text = files["audit_events.jsonl"].decode()
    assert STAFF_ORIGIN["REMOTE_ADDR"] not in text and "StaffDesk" not in text and str(staff.pk) not in text
