"""The console's home page: what needs attention (counts and lists from seeded data), the 30-day charts, and
cancelling a scheduled erasure from it and from the deletion queue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from audit import services as audit_services
from audit.models import AuditEvent
from console import charts
from core.models import OutboxMessage, OutboxStatus
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.conftest import PASSWORD, actions
from tests.console.conftest import client_for, htmx


def numbers(body: str, key: str) -> dict[str, int]:
    """The chart's figures as the page's table gives them: day → count."""
    figure = body.split(f'id="chart-{key}"', 1)[1].split("</figure>", 1)[0]
    return {
        day: int(n) for day, n in re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\d+)</td></tr>", figure)
    }


def tile(body: str, name: str) -> str:
    found = re.search(rf'<li class="tile[^"]*" id="tile-{name}">(.*?)</li>', body, re.S)
    assert found, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.fixture
def approver_client(approver):
    return client_for(approver)


@pytest.fixture
def scheduled(make_user, approver):
    """An approved erasure in its grace period."""
    leaving = make_user(email="leaving@example.com")
    request = gdpr_services.data_request_create(user=leaving, actor=leaving, type="erasure")
    return gdpr_services.erasure_approve(data_request=request, actor=approver)


class TestAttention:
    def test_counts_and_lists_from_seeded_data(
        self, api, make_user, approver, approver_client, scheduled, settings
    ):
        # Two erasures awaiting approval (one through DELETE /me), one scheduled (the fixture).
        for email in ("first@example.com", "second@example.com"):
            user = make_user(email=email)
            gdpr_services.data_request_create(user=user, actor=user, type="erasure")
        # A failed export with its error, and one still queued (not failed).
        exporter = make_user(email="exporter@example.com")
        failed = gdpr_services.data_request_create(user=exporter, actor=exporter, type="export")
        DataRequest.objects.filter(pk=failed.pk).update(
            status="failed", error="storage unreachable", attempts=3
        )
        other = make_user(email="other@example.com")
        gdpr_services.data_request_create(user=other, actor=other, type="export")
        # Two outbox rows given up on.
        for n in range(2):
            OutboxMessage.objects.create(topic="mail.send", handler=f"h{n}", status=OutboxStatus.FAILED)
        # An account locked by wrong passwords at the API login door.
        settings.LOGIN_LOCKOUT_FAILURES = 3
        make_user(email="forgetful@example.com")
        for _ in range(3):
            api.post_json("/auth/token", {"login": "forgetful@example.com", "password": "wrong-password-1"})

        page = approver_client.get("/console/")
        body = page.content.decode()
        assert page.status_code == 200 and "<html" in body
        assert tile(body, "awaiting") == "2 erasures awaiting approval"
        assert tile(body, "scheduled") == "1 erasure scheduled"
        assert tile(body, "failed-exports") == "1 failed export"
        assert tile(body, "outbox").startswith("2 failed outbox deliveries")
        assert tile(body, "locked") == "1 locked account"
        # The lists behind the tiles.
        assert f'id="scheduled-{scheduled.pk}"' in body
        assert f"{scheduled.scheduled_for:%Y-%m-%d %H:%M}" in body and "approver@example.com" in body
        assert "storage unreachable" in body and "exporter@example.com" in body
        assert "other@example.com" not in body
        locked = body.split('id="locked-accounts"', 1)[1]
        assert "forgetful@example.com" in locked
        # The outbox tile links to the page listing the failed messages.
        assert 'href="/console/outbox/"' in body

        partial = approver_client.get("/console/", headers=htmx("attention"))
        text = partial.content.decode()
        assert partial.status_code == 200 and "<html" not in text
        assert text.strip().startswith('<section id="attention"') and 'id="charts"' not in text
        assert tile(text, "awaiting") == "2 erasures awaiting approval"

    def test_nothing_to_do(self, staff_client):
        body = staff_client.get("/console/").content.decode()
        for name, text in (
            ("awaiting", "0 erasures awaiting approval"),
            ("scheduled", "0 erasures scheduled"),
            ("failed-exports", "0 failed exports"),
            ("locked", "0 locked accounts"),
        ):
            assert tile(body, name) == text
        assert "No erasure is scheduled." in body and "No account is locked." in body

    def test_a_lock_that_ended_is_not_listed(self, api, make_user, staff_client, settings, time_machine):
        settings.LOGIN_LOCKOUT_FAILURES = 2
        make_user(email="forgetful@example.com")
        for _ in range(2):
            api.post_json("/auth/token", {"login": "forgetful@example.com", "password": "wrong-password-1"})
        assert "forgetful@example.com" in staff_client.get("/console/").content.decode()
        time_machine.move_to(timezone.now() + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1))
        assert tile(staff_client.get("/console/").content.decode(), "locked") == "0 locked accounts"

    def test_a_lock_lifted_early_is_not_listed(self, api, make_user, staff_client, settings):
        # A staff member sets a new password (the admin's door), which lifts the lock before it ends: the
        # cache, not the audit log, says whether a lock holds.
        settings.LOGIN_LOCKOUT_FAILURES = 2
        forgetful = make_user(email="forgetful@example.com")
        for _ in range(2):
            api.post_json("/auth/token", {"login": "forgetful@example.com", "password": "wrong-password-1"})
        assert tile(staff_client.get("/console/").content.decode(), "locked") == "1 locked account"
        admin = make_user(email="root@example.com", is_staff=True, is_superuser=True)
        account_services.password_set(user=forgetful, actor=admin, new_password="a-new-password-77")
        assert tile(staff_client.get("/console/").content.decode(), "locked") == "0 locked accounts"

    def test_staff_without_the_approver_permission_sees_no_cancel_button(self, staff_client, scheduled):
        body = staff_client.get("/console/").content.decode()
        assert f'id="scheduled-{scheduled.pk}"' in body
        assert "Cancel erasure</button>" not in body
        assert "Cancelling needs the erasure approver permission." in body


class TestCharts:
    def test_per_day_counts_from_the_audit_log(self, api, staff_client, make_user, time_machine):
        today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        seeded = {
            "user.registered": {0: 3, 2: 1, 29: 2},
            "auth.login": {0: 5, 1: 2},
            "gdpr.erasure_completed": {3: 1},
            "gdpr.export_requested": {0: 1, 10: 4},
        }
        for action, per_day in seeded.items():
            for days_ago, count in per_day.items():
                time_machine.move_to(today - timedelta(days=days_ago))
                for _ in range(count):
                    audit_services.record(action)
        # Outside the window, and another action: not counted.
        time_machine.move_to(today - timedelta(days=30))
        audit_services.record("user.registered")
        audit_services.record("user.updated")
        time_machine.move_to(today)

        # One real login through the API counts too.
        make_user(email="ada@example.com")
        api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD})

        body = staff_client.get("/console/").content.decode()
        expected_logins = {0: 6, 1: 2}
        for series in charts.SERIES:
            figures = numbers(body, series.key)
            assert len(figures) == charts.DAYS
            per_day = expected_logins if series.action == "auth.login" else seeded[series.action]
            want = {f"{today - timedelta(days=d):%Y-%m-%d}": n for d, n in per_day.items()}
            assert {day: n for day, n in figures.items() if n} == want, series.key
            assert min(figures) == f"{today - timedelta(days=29):%Y-%m-%d}"
            assert max(figures) == f"{today:%Y-%m-%d}"

        # Drawn as SVG: 30 bars a chart, an accessible name and description with the figures in words.
        signups = body.split('id="chart-signups"', 1)[1].split("</figure>", 1)[0]
        assert signups.count('<rect class="bar"') == charts.DAYS
        assert 'role="img" aria-labelledby="chart-signups-title chart-signups-desc"' in signups
        assert '<title id="chart-signups-title">Sign-ups per day</title>' in signups
        assert f"6 in all, most on {today:%Y-%m-%d} (3)." in signups
        assert f"<title>{today:%Y-%m-%d}: 3</title>" in signups
        assert "6 in 30 days" in signups
        # The tallest bar fills the plot; a day without events has no height.
        heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([\d.]+)"', signups)]
        assert max(heights) == pytest.approx(charts.PLOT_HEIGHT * 3 / charts._scale_top(3), abs=0.1)
        assert heights.count(0.0) == charts.DAYS - 3

    def test_one_query_per_series(self, staff_client):
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get("/console/", headers=htmx("charts"))
        assert response.status_code == 200
        body = response.content.decode()
        assert body.strip().startswith('<section id="charts"') and 'id="attention"' not in body
        audit_queries = [q["sql"] for q in queries if "audit_auditevent" in q["sql"]]
        assert len(audit_queries) == len(charts.SERIES)
        assert all("GROUP BY" in sql for sql in audit_queries)

    def test_past_days_are_cached_and_today_stays_live(self, staff_client, time_machine):
        now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        time_machine.move_to(now - timedelta(days=2))
        audit_services.record("user.registered")
        time_machine.move_to(now)
        first = numbers(staff_client.get("/console/", headers=htmx("charts")).content.decode(), "signups")
        assert sum(first.values()) == 1

        # Today's events show at once, still with one query per series (over today alone now).
        audit_services.record("user.registered")
        with CaptureQueriesContext(connection) as queries:
            body = staff_client.get("/console/", headers=htmx("charts")).content.decode()
        second = numbers(body, "signups")
        assert second[f"{now:%Y-%m-%d}"] == 1 and sum(second.values()) == 2
        assert len([q for q in queries if "audit_auditevent" in q["sql"]]) == len(charts.SERIES)

        # Tomorrow the window moves: yesterday's (then today's) count is read again, not lost.
        time_machine.move_to(now + timedelta(days=1))
        third = numbers(staff_client.get("/console/", headers=htmx("charts")).content.decode(), "signups")
        assert third[f"{now:%Y-%m-%d}"] == 1 and sum(third.values()) == 2

    def test_no_events_draws_empty_charts(self, staff_client):
        body = staff_client.get("/console/", headers=htmx("charts")).content.decode()
        assert body.count('<rect class="bar"') == charts.DAYS * len(charts.SERIES)
        assert "0 in all." in body

    @pytest.mark.parametrize(
        ("peak", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (1234, 2000)]
    )
    def test_scale_is_round(self, peak, top):
        assert charts._scale_top(peak) == top


class TestCancelScheduledErasure:
    def test_from_the_home_page(self, approver, approver_client, scheduled):
        response = approver_client.post(
            f"/console/deletions/{scheduled.pk}/cancel/",
            {"reason": "The user asked support to keep the account", "back": "home"},
            headers=htmx("attention"),
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert body.strip().startswith('<section id="attention"')
        assert "Erasure of leaving@example.com cancelled" in body
        assert f'id="scheduled-{scheduled.pk}"' not in body
        assert tile(body, "scheduled") == "0 erasures scheduled"
        scheduled.refresh_from_db()
        assert (
            scheduled.status == "cancelled"
            and scheduled.reason == "The user asked support to keep the account"
        )
        event = AuditEvent.objects.get(action="gdpr.erasure_cancelled")
        assert event.actor_id == approver.pk and event.actor_type == "staff"
        assert event.subject_id == scheduled.user_id
        assert event.details["reason"] == "The user asked support to keep the account"

    def test_plain_post_redirects_back(self, approver_client, scheduled):
        response = approver_client.post(
            f"/console/deletions/{scheduled.pk}/cancel/", {"reason": "mistake", "back": "home"}
        )
        assert response.status_code == 302 and response["Location"] == "/console/"
        page = approver_client.get("/console/")
        assert b"Erasure of leaving@example.com cancelled" in page.content

    def test_from_the_deletion_queue(self, approver, approver_client, scheduled):
        page = approver_client.get("/console/deletions/").content.decode()
        assert f'id="scheduled-{scheduled.pk}"' in page
        assert f"{scheduled.scheduled_for:%Y-%m-%d %H:%M}" in page
        partial = approver_client.get("/console/deletions/", headers=htmx("scheduled")).content.decode()
        assert partial.strip().startswith('<div id="scheduled"') and "Cancel erasure</button>" in partial

        response = approver_client.post(
            f"/console/deletions/{scheduled.pk}/cancel/", {"reason": "legal hold"}, headers=htmx("scheduled")
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert body.strip().startswith('<div id="scheduled"') and "No erasure is scheduled." in body
        assert actions(action="gdpr.erasure_cancelled") == ["gdpr.erasure_cancelled"]
        plain = approver_client.post(f"/console/deletions/{scheduled.pk}/cancel/", {"reason": "again"})
        assert plain.status_code == 302 and plain["Location"] == "/console/deletions/"

    def test_needs_a_reason(self, approver_client, scheduled):
        for reason in ("", "   ", "x" * 501):
            response = approver_client.post(
                f"/console/deletions/{scheduled.pk}/cancel/",
                {"reason": reason, "back": "home"},
                headers=htmx("attention"),
            )
            assert response.status_code == 400
            assert b"A reason is required" in response.content
        scheduled.refresh_from_db()
        assert scheduled.status == "approved"
        assert actions(action="gdpr.erasure_cancelled") == []

    def test_refused_without_the_approver_permission(self, staff, staff_client, scheduled):
        assert not staff.has_perm("gdpr.approve_erasure")
        response = staff_client.post(
            f"/console/deletions/{scheduled.pk}/cancel/", {"reason": "please"}, headers=htmx("attention")
        )
        assert response.status_code == 403 and b"permission" in response.content
        scheduled.refresh_from_db()
        assert scheduled.status == "approved"
        assert actions(action="gdpr.erasure_cancelled") == []

    def test_a_running_erasure_cannot_be_cancelled(self, approver_client, scheduled):
        DataRequest.objects.filter(pk=scheduled.pk).update(status="running")
        response = approver_client.post(
            f"/console/deletions/{scheduled.pk}/cancel/", {"reason": "too late"}, headers=htmx("scheduled")
        )
        assert response.status_code == 409 and b"can no longer be cancelled" in response.content
        assert DataRequest.objects.get(pk=scheduled.pk).status == "running"
        assert actions(action="gdpr.erasure_cancelled") == []

    def test_unknown_and_export_ids_are_404(self, approver_client, make_user):
        user = make_user(email="exporter@example.com")
        export = gdpr_services.data_request_create(user=user, actor=user, type="export")
        for url in (
            "/console/deletions/00000000-0000-0000-0000-000000000000/cancel/",
            f"/console/deletions/{export.pk}/cancel/",
        ):
            assert approver_client.post(url, {"reason": "x"}).status_code == 404
        assert DataRequest.objects.get(pk=export.pk).status == "pending"

    def test_approval_moves_the_request_to_the_scheduled_list(self, make_user, approver_client):
        user = make_user(email="next@example.com")
        request = gdpr_services.data_request_create(user=user, actor=user, type="erasure")
        response = approver_client.post(f"/console/deletions/{request.pk}/approve/", headers=htmx("queue"))
        body = response.content.decode()
        assert body.strip().startswith('<div id="queue">')
        # The scheduled list comes along, swapped out of band.
        oob = body.split('<div id="scheduled" hx-swap-oob="true">', 1)[1]
        assert f'id="scheduled-{request.pk}"' in oob
