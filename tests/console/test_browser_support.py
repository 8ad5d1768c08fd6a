"""The console in Chromium: search by a short name and by names in reverse order, and the support actions
(restore, unlink a social account, consent history), done by Support and refused to a staff member without
their permissions. Client-level tests of the same rules are in test_support_actions.py and test_search.py."""

from __future__ import annotations

from typing import Any

import requests
from allauth.socialaccount.models import SocialAccount

from accounts.models import User
from audit.models import AuditEvent
from gdpr.models import DataRequest
from tests.conftest import PASSWORD
from tests.console.conftest import with_roles
from tests.console.test_browser import (  # noqa: F401 (fixture)
    ARTIFACTS,
    api_login,
    browser,
    expect,
    make,
    new_page,
    staff_login,
)

REASON = "Asked by the user on the phone (ticket 4711)"


def _post_refused(page: Any, base: str, path: str) -> int:
    """A hand-made POST of the console's form, with the page's CSRF token: what a crafted request gets."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return int(
        page.request.post(
            f"{base}{path}",
            form={"reason": REASON},
            headers={"X-CSRFToken": token, "Referer": f"{base}/console/"},
        ).status
    )


def test_search_by_a_short_name_and_by_names_in_reverse_order(live_server, browser):  # noqa: F811
    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    make("ed.wood@example.com", first_name="Ed", last_name="Wood")
    make("grace@example.com", first_name="Grace", last_name="Hopper")
    make("edith@example.com", first_name="Edith", last_name="Piaf")
    make("other@example.com", first_name="Alan", last_name="Turing")

    page, problems = new_page(browser)
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/users/")
    page.click("#q")
    page.keyboard.type("Ed", delay=30)
    expect(page.locator("#results tbody a")).to_have_count(2)
    found = set(page.locator("#results tbody a").all_inner_texts())
    assert found == {"ed.wood@example.com", "edith@example.com"}

    page.fill("#q", "")
    page.click("#q")
    page.keyboard.type("hopper grace", delay=20)
    expect(page.locator("#results tbody a")).to_have_text(["grace@example.com"])
    page.screenshot(path=str(ARTIFACTS / "30-search-reversed.png"), full_page=True, caret="initial")
    assert problems == [], problems


def test_support_actions_done_by_support_and_refused_without_permission(live_server, browser):  # noqa: F811
    base = live_server.url
    with_roles(make("staff@example.com", is_staff=True), "Support")
    with_roles(make("approver@example.com", is_staff=True), "Approver")
    leaving = make("leaving@example.com")
    linked = make("linked@example.com")
    account = SocialAccount.objects.create(user=linked, provider="google", uid="g-1")
    access = api_login(base, linked.email)
    for granted in (True, False):
        r = requests.put(
            f"{base}/api/v1/me/consents/marketing_email",
            json={"granted": granted},
            headers={"Authorization": f"Bearer {access}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
    gone = requests.delete(
        f"{base}/api/v1/me",
        json={"password": PASSWORD},
        headers={"Authorization": f"Bearer {api_login(base, leaving.email)}"},
        timeout=10,
    )
    assert gone.status_code == 202, gone.text

    # The Approver role holds none of the three: no form on the pages, and crafted POSTs are refused.
    page, _ = new_page(browser)
    staff_login(page, base, "approver@example.com")
    page.goto(f"{base}/console/users/{leaving.pk}/")
    assert page.locator("#restore").count() == 0
    page.goto(f"{base}/console/users/{linked.pk}/")
    assert page.locator(f"#unlink-{account.pk}").count() == 0
    assert page.locator("#consent-reason").count() == 0
    assert _post_refused(page, base, f"/console/users/{leaving.pk}/restore/") == 403
    assert (
        _post_refused(page, base, f"/console/users/{linked.pk}/social-accounts/{account.pk}/unlink/") == 403
    )
    assert _post_refused(page, base, f"/console/users/{linked.pk}/consents/") == 403
    assert User.objects.get(pk=leaving.pk).deleted_at is not None
    assert SocialAccount.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action__in=["user.restored", "social.unlinked"]).exists()
    page.close()

    # Support does each one, with a reason, in the page (htmx swaps the detail; confirmations accepted).
    page, problems = new_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())
    staff_login(page, base, "staff@example.com")
    page.goto(f"{base}/console/users/{leaving.pk}/")
    page.fill("#restore-reason", REASON)
    page.click("#restore button")
    expect(page.locator("#detail .messages")).to_contain_text("The account is restored")
    assert User.objects.get(pk=leaving.pk).deleted_at is None
    assert DataRequest.objects.get(user=leaving, type="erasure").status == "cancelled"
    assert api_login(base, leaving.email)  # it signs in again

    page.goto(f"{base}/console/users/{linked.pk}/")
    page.fill("#consent-reason", REASON)
    page.click("#consents button")
    expect(page.locator("#consents table tbody tr")).to_have_count(2)
    expect(page.locator("#consents table")).to_contain_text("marketing_email")
    page.fill(f"#unlink-reason-{account.pk}", REASON)
    page.click(f"#unlink-{account.pk} button")
    expect(page.locator("#detail .messages")).to_contain_text("The google account is unlinked.")
    assert not SocialAccount.objects.filter(pk=account.pk).exists()
    page.screenshot(path=str(ARTIFACTS / "31-support-actions.png"), full_page=True, caret="initial")

    staff = User.objects.get(email="staff@example.com")
    for action, subject in (("user.restored", leaving), ("social.unlinked", linked)):
        event = AuditEvent.objects.get(action=action)
        assert (event.actor_id, event.subject_id) == (staff.pk, subject.pk)
    assert problems == [], problems
