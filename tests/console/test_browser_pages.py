"""The console's pages in Chromium: the home page's charts and cancel button, every main page at 400 px without
horizontal overflow, zero Content-Security-Policy violations anywhere, and the exports list refreshing by
itself. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from tests.console.conftest import with_roles
from tests.console.test_browser import ARTIFACTS, CHROMIUM, browser, expect, make, staff_login  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)",
)

# Collects what the browser reports against the page's policy, from before the page's own scripts run.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || ''));
});
"""


def open_page(chromium: Any, width: int = 1280) -> tuple[Any, list[str]]:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(10_000)
    page.add_init_script(CSP_LISTENER)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return page, problems


def violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__csp"))


def seed_home() -> dict[str, Any]:
    """Something in every "needs attention" list and a month of chart data."""
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from audit import services as audit_services
    from core.models import OutboxMessage
    from gdpr import services as gdpr_services
    from gdpr.models import DataRequest

    staff = with_roles(make("staff@example.com", is_staff=True, first_name="Sam"), "Support", "Approver")
    staff.user_permissions.add(Permission.objects.get(codename="manage_webhooks"))
    approver = with_roles(make("approver@example.com", is_staff=True), "Approver")
    leaving = make("leaving@example.com", first_name="Lee", last_name="Ving")
    scheduled = gdpr_services.erasure_approve(
        data_request=gdpr_services.data_request_create(user=leaving, actor=leaving, type="erasure"),
        actor=approver,
    )
    waiting = make("waiting@example.com")
    gdpr_services.data_request_create(user=waiting, actor=waiting, type="erasure")
    exporter = make("exporter@example.com")
    export = gdpr_services.data_request_create(user=exporter, actor=exporter, type="export")
    DataRequest.objects.filter(pk=export.pk).update(status="failed", error="storage unreachable", attempts=3)
    OutboxMessage.objects.create(topic="mail.send", handler="mail", status="failed", last_error="SMTP 554")
    now = timezone.now()
    for days_ago in range(30):
        when = now - timedelta(days=days_ago)
        for action, count in (
            ("user.registered", (days_ago * 7) % 11),
            ("auth.login", 20 + (days_ago * 13) % 17),
            ("gdpr.erasure_completed", days_ago % 3 == 0),
            ("gdpr.export_requested", (days_ago * 5) % 4),
        ):
            for _ in range(int(count)):
                event = audit_services.record(action)
                type(event).objects.filter(pk=event.pk).update(created_at=when)
    return {"scheduled": scheduled}


def test_home_page_with_seeded_data(live_server, browser, settings):  # noqa: F811
    base = live_server.url
    seeded = seed_home()
    settings.LOGIN_LOCKOUT_FAILURES = 2
    make("forgetful@example.com")
    import requests

    for _ in range(2):
        requests.post(
            f"{base}/api/v1/auth/token",
            json={"login": "forgetful@example.com", "password": "nope-nope-1"},
            timeout=10,
        )

    page, problems = open_page(browser)
    staff_login(page, base, "staff@example.com")
    assert page.url == f"{base}/console/"
    expect(page.locator("#tile-awaiting .n")).to_have_text("1")
    expect(page.locator("#tile-scheduled .n")).to_have_text("1")
    expect(page.locator("#tile-failed-exports .n")).to_have_text("1")
    expect(page.locator("#tile-outbox .n")).to_have_text("1")
    expect(page.locator("#tile-locked .n")).to_have_text("1")
    expect(page.locator("#locked-accounts")).to_contain_text("forgetful@example.com")

    # Four charts of 30 bars, drawn: the SVGs have a size and the busiest day's bar is the tallest.
    charts = page.locator("figure.chart svg")
    expect(charts).to_have_count(4)
    for index in range(4):
        svg = charts.nth(index)
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 60
        bars = svg.locator("rect.bar")
        expect(bars).to_have_count(30)
        heights = [float(h) for h in bars.evaluate_all("els => els.map(e => e.getBBox().height)")]
        counts = [int(t.split(": ")[1]) for t in bars.evaluate_all("els => els.map(e => e.textContent)")]
        assert max(heights) > 0 and heights.index(max(heights)) == counts.index(max(counts))
    logins = page.locator("#chart-logins")
    expect(logins.locator("svg desc")).to_contain_text("Logins per day (UTC)")
    page.screenshot(path=str(ARTIFACTS / "10-home.png"), full_page=True, caret="initial")

    # The numbers are there as a table too.
    logins.locator("summary").click()
    expect(logins.locator("table tbody tr")).to_have_count(30)

    # Cancel the scheduled erasure from the home page, with a reason.
    request_id = seeded["scheduled"].pk
    page.evaluate("window.__sameDocument = true")
    page.fill(f"#cancel-reason-{request_id}", "The user changed their mind")
    page.click(f"#scheduled-{request_id} button.cancel-erasure")
    expect(page.locator("#attention .messages")).to_contain_text("Erasure of leaving@example.com cancelled")
    expect(page.locator(f"#scheduled-{request_id}")).to_have_count(0)
    expect(page.locator("#tile-scheduled .n")).to_have_text("0")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(ARTIFACTS / "11-home-cancelled.png"), full_page=True, caret="initial")

    from audit.models import AuditEvent
    from gdpr.models import DataRequest

    assert DataRequest.objects.get(pk=request_id).status == "cancelled"
    event = AuditEvent.objects.get(action="gdpr.erasure_cancelled")
    assert event.details["reason"] == "The user changed their mind"
    assert violations(page) == [] and problems == [], (violations(page), problems)


def main_pages() -> list[tuple[str, str]]:
    from accounts.models import User
    from integrations.models import WebhookEndpoint

    user = User.objects.get(email="leaving@example.com")
    endpoint = WebhookEndpoint.objects.first()
    pages = [
        ("home", "/console/"),
        ("users", "/console/users/"),
        ("search", "/console/users/?q=lee+ving"),
        ("user", f"/console/users/{user.pk}/"),
        ("deletions", "/console/deletions/"),
        ("exports", "/console/exports/"),
        ("audit", "/console/audit/"),
        ("webhooks", "/console/webhooks/"),
        ("not-found", "/console/no-such-page/"),
    ]
    if endpoint is not None:
        pages.append(("webhook", f"/console/webhooks/{endpoint.pk}/"))
    return pages


@pytest.mark.parametrize("width", [400, 1280])
def test_every_main_page_fits_and_keeps_the_policy(live_server, browser, width):  # noqa: F811
    from integrations import services as webhook_services

    base = live_server.url
    seed_home()
    # A long URL: the webhook pages must wrap or scroll it, not widen the page.
    webhook_services.endpoint_create(
        actor=None,
        url="https://93.184.215.14/hooks/a-rather-long-path/that-goes-on-and-on/custodian-events-v1",
        description="CRM",
        event_types=["*"],
    )
    page, problems = open_page(browser, width)
    staff_login(page, base, "staff@example.com")
    for name, path in main_pages():
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        if name == "not-found":
            # The browser reports the page's own 404 status as a failed load; that one is expected.
            expected = [p for p in problems if "status of 404" in p]
            assert len(expected) == 1, problems
            problems.remove(expected[0])
        overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        page.screenshot(path=str(ARTIFACTS / f"20-{width}px-{name}.png"), full_page=True, caret="initial")
        if width == 400:
            assert overflow[0] <= overflow[1], (name, overflow)
        assert violations(page) == [], (name, violations(page))
    # An htmx swap (typing a search) and a details toggle add no violation either.
    page.goto(f"{base}/console/users/")
    page.click("#q")
    page.keyboard.type("leav", delay=30)
    expect(page.locator("#results tbody a")).to_have_text(["leaving@example.com"])
    assert violations(page) == []
    assert problems == [], problems


def test_exports_page_refreshes_progress_by_itself(live_server, browser):  # noqa: F811
    from gdpr import services as gdpr_services
    from gdpr.models import DataRequest

    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    exporter = make("exporter@example.com")
    export = gdpr_services.data_request_create(user=exporter, actor=exporter, type="export")
    DataRequest.objects.filter(pk=export.pk).update(status="running", progress=10)

    page, problems = open_page(browser)
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/exports/")
    row = page.locator(f"#export-{export.pk}")
    expect(row.locator("progress")).to_have_attribute("value", "10")
    page.evaluate("window.__sameDocument = true")

    # The job moves on; the page follows without a reload.
    DataRequest.objects.filter(pk=export.pk).update(progress=60)
    expect(row.locator("progress")).to_have_attribute("value", "60", timeout=8_000)
    expect(row).to_contain_text("running")
    DataRequest.objects.filter(pk=export.pk).update(status="ready", progress=100)
    expect(row).to_contain_text("ready", timeout=8_000)
    expect(row.locator("progress")).to_have_attribute("value", "100")
    assert page.evaluate("window.__sameDocument") is True
    # Done: the list stops asking.
    expect(page.locator("#results")).not_to_have_attribute("hx-trigger", "every 2s")
    page.screenshot(path=str(ARTIFACTS / "30-exports-done.png"), full_page=True, caret="initial")
    assert violations(page) == [] and problems == [], (violations(page), problems)
