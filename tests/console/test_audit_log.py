from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

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
