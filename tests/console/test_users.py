from __future__ import annotations

import html
import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Session, User
from audit.models import AuditEvent
from tests.conftest import PASSWORD, actions, assert_error
from tests.console.conftest import client_for, htmx

XSS = "<img src=x onerror=alert(1)>"


def emails(response) -> list[str]:
    found = re.findall(r'<a href="/console/users/[0-9a-f-]+/">([^<]+)</a>', response.content.decode())
    return [html.unescape(e) for e in found]


@pytest.fixture
def people(make_user):
    return {
        "ada": make_user(email="ada@example.com", username="ada", first_name="Ada", last_name="Lovelace"),
        "grace": make_user(
            email="grace@navy.example", username="ghopper", first_name="Grace", last_name="Hopper"
        ),
        "under": make_user(email="ab_cd@example.com", username="u_score"),
        "plain": make_user(email="abxcd@example.com", username="uxscore"),
        "quote": make_user(email="o'neil@example.com", last_name="O'Neil"),
        "unverified": make_user(email="new@example.com", verified=False),
        "gone": make_user(email="gone@example.com", deleted_at="2026-01-01T00:00:00Z"),
    }


class TestSearch:
    def test_full_page_and_partial_from_one_template(self, staff_client, people):
        page = staff_client.get("/console/users/?q=lovelace")
        assert page.status_code == 200
        assert b"<html" in page.content and b'id="search"' in page.content
        assert emails(page) == ["ada@example.com"]
        partial = staff_client.get("/console/users/?q=lovelace", headers=htmx("results"))
        body = partial.content.decode()
        assert partial.status_code == 200
        assert "<html" not in body and body.strip().startswith('<div id="results">')
        assert emails(partial) == ["ada@example.com"]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("ada@exa", ["ada@example.com"]),
            ("NAVY", ["grace@navy.example"]),
            ("ghop", ["grace@navy.example"]),
            ("grace hopper", ["grace@navy.example"]),
            ("gr", ["grace@navy.example"]),  # short: prefix of e-mail or username
            ("ab_c", ["ab_cd@example.com"]),  # "_" is literal, not a wildcard (prefix path)
            ("_score", ["ab_cd@example.com"]),  # … and in the substring path
            ("b_c", []),  # no 3-letter word: a prefix, and no e-mail starts with it
            ("u_", ["ab_cd@example.com"]),
            ("o'n", ["o'neil@example.com"]),
            ("%", []),
            ("_", []),
            ("'", []),
            ("a%c", []),
            ("' OR 1=1 --", []),
            ("\\", []),
        ],
    )
    def test_matches(self, staff_client, people, query, expected):
        response = staff_client.get("/console/users/", {"q": query}, headers=htmx("results"))
        assert response.status_code == 200
        assert sorted(emails(response)) == expected

    def test_by_id(self, staff_client, people):
        grace = people["grace"]
        response = staff_client.get("/console/users/", {"q": f"  {str(grace.pk).upper()} "})
        assert emails(response) == ["grace@navy.example"]

    @pytest.mark.parametrize(
        ("status", "included", "excluded"),
        [
            ("live", "ada@example.com", "gone@example.com"),
            ("deleted", "gone@example.com", "ada@example.com"),
            ("unverified", "new@example.com", "ada@example.com"),
            ("staff", "staff@example.com", "ada@example.com"),
        ],
    )
    def test_filters(self, staff_client, people, status, included, excluded):
        found = emails(staff_client.get("/console/users/", {"status": status}))
        assert included in found and excluded not in found

    def test_paginated_newest_first(self, staff_client, people, settings):
        settings.CONSOLE_PAGE_SIZE = 3
        seen: list[str] = []
        number = 1
        while True:
            response = staff_client.get("/console/users/", {"page": number}, headers=htmx("results"))
            seen.extend(emails(response))
            if b'rel="next"' not in response.content:
                break
            number += 1
        assert number == 3
        expected = list(User.objects.order_by("-date_joined", "id").values_list("email", flat=True))
        assert seen == expected

    @pytest.mark.parametrize(
        "params", [{"page": "x"}, {"page": "0"}, {"page": "41"}, {"status": "admin"}, {"q": "a" * 300}]
    )
    def test_bad_input_is_a_400_not_a_500(self, staff_client, people, params):
        response = staff_client.get("/console/users/", params, headers=htmx("results"))
        assert response.status_code == 400
        assert b'class="errors"' in response.content

    def test_display_name_is_escaped(self, staff_client, make_user):
        evil = make_user(email="evil@example.com", first_name=XSS, last_name=XSS, username="evil")
        for url in ["/console/users/?q=evil", f"/console/users/{evil.pk}/"]:
            body = staff_client.get(url).content.decode()
            assert XSS not in body
            assert "&lt;img src=x onerror=alert(1)&gt;" in body


class TestDetail:
    def test_shows_profile_sessions_and_trail(self, staff_client, user, login):
        login()
        response = staff_client.get(f"/console/users/{user.pk}/")
        body = response.content.decode()
        assert response.status_code == 200
        assert str(user.pk) in body and "auth.login" in body
        assert body.count('<span class="badge ok">active</span>') == 1  # the account
        assert body.count('<span class="badge ok">live</span>') == 1  # its session

    def test_trail_partial_paginates(self, staff_client, user, login, settings):
        settings.CONSOLE_PAGE_SIZE = 2
        for _ in range(3):
            login()
        first = staff_client.get(f"/console/users/{user.pk}/", headers=htmx("trail"))
        assert first.content.decode().strip().startswith('<section id="trail">')
        assert first.content.count(b"auth.login") == 2
        second = staff_client.get(f"/console/users/{user.pk}/?trail_page=2", headers=htmx("trail"))
        assert second.content.count(b"auth.login") == 1
        assert staff_client.get(f"/console/users/{user.pk}/?trail_page=x").status_code == 200


class TestActions:
    def test_logout_everywhere_ends_api_access(self, staff, staff_client, api, user, login):
        first, second = login(), login()
        response = staff_client.post(f"/console/users/{user.pk}/logout-all/", headers=htmx("detail"))
        assert response.status_code == 200
        body = response.content.decode()
        assert body.strip().startswith('<div id="detail">') and "2 sessions ended" in body
        for tokens in (first, second):
            assert_error(api.call("get", "/me", token=tokens["access"]), 401)
        event = AuditEvent.objects.get(action="session.revoked_all")
        assert event.actor_id == staff.pk and event.actor_type == "staff" and event.subject_id == user.pk
        assert event.details["reason"] == "force_logout"

    def test_plain_post_redirects(self, staff_client, user, login):
        login()
        response = staff_client.post(f"/console/users/{user.pk}/logout-all/")
        assert response.status_code == 302 and response["Location"] == f"/console/users/{user.pk}/"
        page = staff_client.get(response["Location"])
        assert b"1 session ended" in page.content

    def test_revoke_one_session(self, staff, staff_client, api, user, login):
        keep, drop = login(), login()
        response = staff_client.post(
            f"/console/users/{user.pk}/sessions/{drop['session_id']}/revoke/", headers=htmx("detail")
        )
        assert response.status_code == 200
        assert_error(api.call("get", "/me", token=drop["access"]), 401)
        assert api.call("get", "/me", token=keep["access"]).status_code == 200
        event = AuditEvent.objects.get(action="session.revoked")
        assert event.actor_id == staff.pk and event.details["session_id"] == drop["session_id"]

    def test_deactivate_and_reactivate(self, staff, staff_client, api, user, login):
        tokens = login()
        response = staff_client.post(
            f"/console/users/{user.pk}/deactivate/", {"reason": "chargeback"}, headers=htmx("detail")
        )
        assert response.status_code == 200
        user.refresh_from_db()
        assert not user.is_active
        assert_error(api.call("get", "/me", token=tokens["access"]), 401)
        assert_error(api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}), 401)
        assert Session.objects.filter(user=user, revoke_reason="deactivated").count() == 1
        # Twice is harmless and writes no second event.
        staff_client.post(f"/console/users/{user.pk}/deactivate/")
        assert actions(subject_id=user.pk).count("user.deactivated") == 1
        event = AuditEvent.objects.get(action="user.deactivated")
        assert event.actor_id == staff.pk and event.details == {"reason": "chargeback", "sessions": 1}

        response = staff_client.post(f"/console/users/{user.pk}/reactivate/", headers=htmx("detail"))
        assert response.status_code == 200
        user.refresh_from_db()
        assert user.is_active
        assert api.post_json("/auth/token", {"login": user.email, "password": PASSWORD}).status_code == 200
        assert AuditEvent.objects.get(action="user.reactivated").actor_id == staff.pk

    def test_staff_cannot_deactivate_themselves(self, staff, staff_client):
        response = staff_client.post(f"/console/users/{staff.pk}/deactivate/", headers=htmx("detail"))
        assert response.status_code == 409
        assert b"cannot deactivate your own account" in response.content
        staff.refresh_from_db()
        assert staff.is_active

    def test_deactivate_reason_too_long(self, staff_client, user):
        response = staff_client.post(
            f"/console/users/{user.pk}/deactivate/", {"reason": "x" * 501}, headers=htmx("detail")
        )
        assert response.status_code == 400
        user.refresh_from_db()
        assert user.is_active

    def test_resend_verification(self, staff, staff_client, make_user, django_capture_on_commit_callbacks):
        fresh = make_user(email="fresh@example.com", verified=False)
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(f"/console/users/{fresh.pk}/verification/", headers=htmx("detail"))
        assert response.status_code == 200
        assert [m.to for m in mail.outbox] == [["fresh@example.com"]]
        event = AuditEvent.objects.get(action="user.verification_resent")
        assert event.actor_id == staff.pk and event.subject_id == fresh.pk

    def test_resend_to_verified_user_is_refused(self, staff_client, user):
        response = staff_client.post(f"/console/users/{user.pk}/verification/", headers=htmx("detail"))
        assert response.status_code == 409
        assert mail.outbox == []
        assert not AuditEvent.objects.filter(action="user.verification_resent").exists()


class TestLogin:
    def test_staff_logs_in_and_lands_on_home(self, db, staff):
        client = Client()
        page = client.get("/console/login/")
        assert page.status_code == 200 and b'name="password"' in page.content
        response = client.post("/console/login/", {"username": "staff@example.com", "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/console/"
        assert client.get("/console/users/").status_code == 200

    def test_next_is_followed_but_not_off_site(self, db, staff):
        client = Client()
        response = client.post(
            "/console/login/?next=/console/audit/",
            {"username": "staff", "password": PASSWORD, "next": "/console/audit/"},
        )
        # "staff" is not a username here; the e-mail is the login.
        assert response.status_code == 200
        response = client.post(
            "/console/login/",
            {"username": "staff@example.com", "password": PASSWORD, "next": "https://evil.example/"},
        )
        assert response["Location"] == "/console/"

    @pytest.mark.parametrize(
        ("login", "password"),
        [
            ("staff@example.com", "wrong-password-1"),
            ("nobody@example.com", PASSWORD),
            ("plain@example.com", PASSWORD),
        ],
    )
    def test_refused(self, db, staff, make_user, login, password):
        make_user(email="plain@example.com")
        client = Client()
        response = client.post("/console/login/", {"username": login, "password": password})
        assert response.status_code == 200
        assert b'class="errors"' in response.content
        assert client.get("/console/users/").status_code == 302

    def test_repeated_failures_lock_the_login(self, db, staff, settings):
        settings.LOGIN_LOCKOUT_FAILURES = 3
        client = Client()
        for _ in range(3):
            response = client.post(
                "/console/login/", {"username": "STAFF@example.com", "password": "nope-nope-1"}
            )
            assert b"Too many failed attempts" not in response.content
        response = client.post("/console/login/", {"username": "staff@example.com", "password": PASSWORD})
        assert response.status_code == 200 and b"Too many failed attempts" in response.content
        assert client.get("/console/users/").status_code == 302
        failed = AuditEvent.objects.filter(action="auth.login_failed").order_by("id")
        assert [(e.subject_id, e.details["reason"], e.details["door"]) for e in failed] == [
            *[(staff.pk, "wrong_password", "console")] * 3,
            (staff.pk, "locked", "console"),
        ]
        assert actions(action="auth.locked") == ["auth.locked"]

    def test_sign_in_and_out_are_audited(self, db, staff):
        client = Client()
        client.post("/console/login/", {"username": "staff@example.com", "password": PASSWORD})
        client.post("/console/logout/")
        events = AuditEvent.objects.filter(action__startswith="auth.").order_by("id")
        assert [(e.action, e.actor_id, e.subject_id, e.details) for e in events] == [
            ("auth.login", staff.pk, staff.pk, {"door": "console", "amr": ["pwd"]}),
            ("auth.logout", staff.pk, staff.pk, {"door": "console"}),
        ]
        # A console sign-in opens a Django session, not a token session.
        assert not staff.sessions.exists()

    def test_login_without_csrf_is_refused(self, db, staff):
        client = Client(enforce_csrf_checks=True)
        response = client.post("/console/login/", {"username": "staff@example.com", "password": PASSWORD})
        assert response.status_code == 403


def test_staff_cannot_be_reached_by_non_staff_token(api, user, tokens):
    # The API bearer token is not a console login.
    response = Client().get("/console/users/", headers={"Authorization": f"Bearer {tokens['access']}"})
    assert response.status_code == 302


def test_plain_user_logged_in_via_console_session_is_forbidden(make_user):
    client = client_for(make_user(email="plain@example.com"))
    assert client.get("/console/users/").status_code == 403
