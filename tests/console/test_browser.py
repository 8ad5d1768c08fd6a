"""The console in a real browser (Playwright driving Debian's Chromium; .ci/run installs it). Screenshots go
to test-artifacts/console/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from accounts.models import User
from tests.conftest import PASSWORD
from tests.console.conftest import with_roles

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)",
)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()
        # ORM calls made while Playwright ran opened a connection of their own context; close it, or it
        # keeps the PostgreSQL test database from being dropped.
        connections.close_all()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def new_page(browser: Any) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


def staff_login(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/console/")
    assert "/console/login/" in page.url
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def api_login(base: str, email: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token", json={"login": email, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access"])


def me_status(base: str, access: str) -> int:
    return requests.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {access}"}, timeout=10
    ).status_code


def make(email: str, **extra: Any) -> User:
    from django.utils import timezone

    return User.objects.create_user(email=email, password=PASSWORD, email_verified_at=timezone.now(), **extra)


def test_search_open_user_and_log_out_everywhere(live_server, browser):
    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    target = make("target.person@example.com", first_name="Tara", last_name="Get")
    for i in range(3):
        make(f"someone{i}@example.com")
    access = api_login(base, target.email)
    assert me_status(base, access) == 200

    page, problems = new_page(browser)
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/users/")
    page.evaluate("window.__sameDocument = true")
    page.click("#q")
    page.keyboard.type("target.per", delay=40)
    # (Locators, not wait_for_function: the page's CSP forbids eval, which that uses.)
    expect(page.locator("#results tbody a")).to_have_text(["target.person@example.com"])
    # The list changed in place: the marker set before typing survived (no page load), the URL was pushed.
    assert page.evaluate("window.__sameDocument") is True
    assert "q=target.per" in page.url
    page.screenshot(path=str(ARTIFACTS / "01-search.png"), full_page=True, caret="initial")

    page.click("#results tbody a")
    page.wait_for_url(f"{base}/console/users/{target.pk}/")
    assert page.locator("#sessions .badge.ok").count() == 1
    page.screenshot(path=str(ARTIFACTS / "02-user.png"), full_page=True, caret="initial")

    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.evaluate("window.__sameDocument = true")
    page.click("#logout-all")
    page.wait_for_selector("text=1 session ended")
    assert dialogs and "everywhere" in dialogs[0]
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#sessions .badge.ok").count() == 0
    page.screenshot(path=str(ARTIFACTS / "03-logged-out-everywhere.png"), full_page=True, caret="initial")

    assert me_status(base, access) == 401

    # The force logout is in the audit log, found by filtering on its action.
    page.goto(f"{base}/console/audit/")
    page.fill("#id_action", "session.revoked_all")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results tbody tr")).to_contain_text("reason=force_logout")
    page.screenshot(path=str(ARTIFACTS / "03b-audit-log.png"), full_page=True, caret="initial")
    assert problems == [], problems  # no CSP violation, no script error


def test_second_staff_member_approves_and_is_refused_about_themselves(live_server, browser):
    from gdpr import services as gdpr_services
    from gdpr.models import DataRequest

    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    approver = with_roles(make("approver@example.com", is_staff=True), "Approver")
    leaving = make("leaving@example.com")
    theirs = gdpr_services.data_request_create(user=leaving, actor=leaving, type="erasure")
    own = gdpr_services.data_request_create(user=approver, actor=approver, type="erasure")

    # The first staff member sees the queue but has no decision buttons.
    page, problems = new_page(browser)
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/deletions/")
    expect(page.locator(f"#request-{theirs.pk}")).to_contain_text("leaving@example.com")
    assert page.locator("button.approve").count() == 0
    page.close()

    page, problems = new_page(browser)
    staff_login(page, base, "approver@example.com")
    page.goto(f"{base}/console/deletions/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click(f"#request-{theirs.pk} button.approve")
    expect(page.locator("#queue .messages")).to_contain_text("Erasure of leaving@example.com approved")
    expect(page.locator(f"#request-{theirs.pk}")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "04-approved.png"), full_page=True, caret="initial")
    theirs.refresh_from_db()
    assert theirs.status == "approved" and theirs.decided_by_id == approver.pk

    expect(page.locator(f"#request-{own.pk}")).to_contain_text("you")
    page.click(f"#request-{own.pk} button.approve")
    expect(page.locator("#queue .messages")).to_contain_text("about themselves")
    page.screenshot(path=str(ARTIFACTS / "05-self-approval-refused.png"), full_page=True, caret="initial")
    assert DataRequest.objects.get(pk=own.pk).status == "awaiting_approval"
    # htmx reports the refusal (403) as a response error in the console; anything else is a problem.
    assert [p for p in problems if "403" not in p] == [], problems


def test_support_clears_a_lock_and_sends_a_reset_link(live_server, browser, settings):
    from django.core import mail

    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    target = make("locked.person@example.com", first_name="Lou")
    boss = make("boss@example.com", is_staff=True, is_superuser=True)
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        requests.post(
            f"{base}/api/v1/auth/token", json={"login": target.email, "password": "wrong-one-1"}, timeout=10
        )
    locked = requests.post(
        f"{base}/api/v1/auth/token", json={"login": target.email, "password": PASSWORD}, timeout=10
    )
    assert locked.status_code == 429

    page, problems = new_page(browser)
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/users/{target.pk}/")
    expect(page.locator("#lockout")).to_contain_text("locked until")
    page.screenshot(path=str(ARTIFACTS / "06-locked.png"), full_page=True, caret="initial")

    page.evaluate("window.__sameDocument = true")
    page.fill("#lockout-reason", "Called from a known number")
    page.click("#lockout-clear button")
    expect(page.locator("#detail .messages")).to_contain_text("The sign-in lock is cleared")
    expect(page.locator("#lockout")).to_have_text("not locked")
    assert page.evaluate("window.__sameDocument") is True
    assert api_login(base, target.email)  # the right password works again

    page.fill("#reset-reason", "Forgot the password")
    page.click("#password-reset button")
    expect(page.locator("#detail .messages")).to_contain_text("A password-reset link is on its way")
    page.screenshot(path=str(ARTIFACTS / "07-reset-link-sent.png"), full_page=True, caret="initial")
    assert any("support team sent you this link" in m.body for m in mail.outbox if m.to == [target.email])

    # A superuser's page: the staff member sees it, without a single action.
    page.goto(f"{base}/console/users/{boss.pk}/")
    expect(page.locator("#outranked")).to_contain_text("holds permissions you do not have")
    assert page.locator("#actions").count() == 0 and page.locator("#logout-all").count() == 0
    page.screenshot(path=str(ARTIFACTS / "08-outranked.png"), full_page=True, caret="initial")
    assert problems == [], problems
