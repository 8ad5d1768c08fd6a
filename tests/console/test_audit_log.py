from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from audit import services as audit_services
from audit.models import AuditEvent
from tests.console.conftest import htmx


def event_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", response.content.decode())]


@pytest.fixture
def trail(user, staff):
    other = uuid.uuid4()
    events = [
        audit_services.record("auth.login", actor=user, subject=user),
        audit_services.record("session.revoked", actor=staff, subject=user),
        audit_services.record("session.revoked_all", actor=staff, subject=user),
        audit_services.record("auth.login", subject=other),
    ]
    return {"user": user, "staff": staff, "other": other, "events": events}


def test_full_page_and_partial(staff_client, trail):
    page = staff_client.get("/console/audit/")
    assert page.status_code == 200 and b'id="audit-filter"' in page.content
    assert event_ids(page) == sorted((e.id for e in trail["events"]), reverse=True)
    partial = staff_client.get("/console/audit/", headers=htmx("results"))
    assert partial.content.decode().strip().startswith('<div id="results">')


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "auth.login"}, [0, 3]),
        ({"action": "session."}, [1, 2]),  # a prefix
        ({"action": "session"}, []),
        ({"actor": "staff"}, [1, 2]),
        ({"subject": "user"}, [0, 1, 2]),
        ({"subject": "other", "action": "auth.login"}, [3]),
    ],
)
def test_filters(staff_client, trail, params, expected):
    params = {
        k: str(trail[v].pk if v in ("user", "staff") else trail[v]) if k in ("actor", "subject") else v
        for k, v in params.items()
    }
    response = staff_client.get("/console/audit/", params, headers=htmx("results"))
    assert response.status_code == 200
    assert event_ids(response) == sorted((trail["events"][i].id for i in expected), reverse=True)


def test_date_range(staff_client, trail):
    today = timezone.now().date()
    assert len(event_ids(staff_client.get("/console/audit/", {"since": today, "until": today}))) == 4
    tomorrow = today + timedelta(days=1)
    assert event_ids(staff_client.get("/console/audit/", {"since": tomorrow})) == []
    assert event_ids(staff_client.get("/console/audit/", {"until": today - timedelta(days=1)})) == []


def test_paginated(staff_client, trail, settings):
    settings.CONSOLE_PAGE_SIZE = 3
    first = staff_client.get("/console/audit/", headers=htmx("results"))
    second = staff_client.get("/console/audit/", {"page": 2}, headers=htmx("results"))
    assert len(event_ids(first)) == 3 and len(event_ids(second)) == 1
    assert b'rel="next"' in first.content and b'rel="next"' not in second.content
    assert set(event_ids(first)).isdisjoint(event_ids(second))


@pytest.mark.parametrize(
    "params",
    [
        {"actor": "nope"},
        {"subject": "1 OR 1=1"},
        {"since": "yesterday"},
        {"page": "-1"},
        {"action": "x" * 65},
    ],
)
def test_bad_input_is_400(staff_client, trail, params):
    response = staff_client.get("/console/audit/", params, headers=htmx("results"))
    assert response.status_code == 400 and b'class="errors"' in response.content


def test_pseudonymised_events_are_marked(staff_client, trail):
    audit_services.events_pseudonymise(subject_id=trail["user"].pk)
    body = staff_client.get("/console/audit/").content.decode()
    assert "pseudonymised" in body
    assert AuditEvent.objects.filter(subject_id=trail["user"].pk).count() == 0


# --- people by e-mail address ---------------------------------------------------------------------------


def people(response, column: str) -> list[str]:
    """Each row's person in the actor or subject column: a linked e-mail address, "erased user", or ""."""
    cells = re.findall(rf'<td class="{column}">(.*?)</td>', response.content.decode(), re.S)
    return [(re.findall(r">([^<]+)</(?:a|em)>", c) or [""])[0] for c in cells]


def test_staff_and_users_are_shown_by_e_mail(staff_client, trail):
    response = staff_client.get("/console/audit/")
    body = response.content.decode()
    assert people(response, "actor") == ["", "staff@example.com", "staff@example.com", "ada@example.com"]
    assert people(response, "subject") == [
        "erased user",
        "ada@example.com",
        "ada@example.com",
        "ada@example.com",
    ]
    assert f'<a href="/console/users/{trail["staff"].pk}/">staff@example.com</a>' in body
    # No truncated ids anywhere.
    assert str(trail["staff"].pk)[:8] + "…" not in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "STAFF@example.com"}, [1, 2]),
        ({"subject": " ada@example.com "}, [0, 1, 2]),
        ({"actor": "ada@example.com", "subject": "ada@example.com"}, [0]),
    ],
)
def test_filter_by_e_mail(staff_client, trail, params, expected):
    response = staff_client.get("/console/audit/", params, headers=htmx("results"))
    assert response.status_code == 200
    assert event_ids(response) == sorted((trail["events"][i].id for i in expected), reverse=True)


def test_an_address_finds_the_live_and_the_deleted_accounts_that_had_it(staff_client, trail, make_user):
    ada = trail["user"]
    User.objects.filter(pk=ada.pk).update(deleted_at=timezone.now())
    again = make_user(email="Ada@Example.com")
    newer = audit_services.record("auth.login", actor=again, subject=again)
    response = staff_client.get("/console/audit/", {"subject": "ada@example.com"}, headers=htmx("results"))
    expected = [newer.id, *(trail["events"][i].id for i in (2, 1, 0))]
    assert event_ids(response) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"actor": "nobody@example.com"}, "No account, live or deleted, has this e-mail address"),
        ({"subject": "ada"}, "Enter an e-mail address or a user id."),
    ],
)
def test_an_address_nobody_has_is_a_clear_400(staff_client, trail, params, message):
    response = staff_client.get("/console/audit/", params, headers=htmx("results"))
    assert response.status_code == 400 and message in response.content.decode()


def test_the_trail_and_the_deciders_are_shown_by_e_mail(staff_client, make_user, user):
    from gdpr import services as gdpr_services

    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    request = gdpr_services.data_request_create(user=user, actor=user, type="erasure")
    gdpr_services.erasure_reject(data_request=request, actor=boss, reason="legal hold")
    body = staff_client.get(f"/console/users/{user.pk}/").content.decode()
    decider = re.search(r'<td class="decider">(.*?)</td>', body, re.S)
    assert decider and f'<a href="/console/users/{boss.pk}/">boss@example.com</a>' in decider.group(1)
    actors = re.findall(r'<td class="actor">(.*?)</td>', body, re.S)
    assert any("boss@example.com" in a for a in actors)  # gdpr.erasure_rejected by boss
