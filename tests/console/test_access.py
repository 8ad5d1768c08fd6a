"""Every console URL, crawled as anonymous, non-staff, staff without the approver permission, and without
a CSRF token."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import get_resolver

from accounts.models import Session
from audit.models import AuditEvent
from tests.console.conftest import client_for, htmx

# (url name, method, partial targets to also crawl as htmx). New console URLs must be listed here.
ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "home": ("get", ("attention", "charts")),
    "users": ("get", ("results",)),
    "user": ("get", ("detail", "trail")),
    "audit": ("get", ("results",)),
    "deletions": ("get", ("queue", "scheduled")),
    "exports": ("get", ("results",)),
    "deletion_approve": ("post", ("queue",)),
    "deletion_reject": ("post", ("queue",)),
    "erasure_cancel": ("post", ("scheduled", "attention")),
    "session_revoke": ("post", ("detail",)),
    "logout_all": ("post", ("detail",)),
    "verification_resend": ("post", ("detail",)),
    "deactivate": ("post", ("detail",)),
    "reactivate": ("post", ("detail",)),
    "password_reset_send": ("post", ("detail",)),
    "lockout_clear": ("post", ("detail",)),
    "restore": ("post", ("detail",)),
    "mfa_reset": ("post", ("detail",)),
    "mfa_setup": ("get", ()),
    "social_unlink": ("post", ("detail",)),
    "consent_history": ("post", ("consents",)),
    "webhooks": ("get", ()),
    "webhook": ("get", ("deliveries",)),
    "webhook_edit": ("post", ()),
    "webhook_rotate": ("post", ()),
    "webhook_delete": ("post", ()),
    "webhook_test": ("post", ("deliveries",)),
    "webhook_replay": ("post", ("deliveries",)),
    "outbox": ("get", ("failed",)),
    "outbox_retry": ("post", ("failed",)),
    "api_keys": ("get", ("keys",)),
    "api_key_revoke": ("post", ("keys",)),
}
# Open to anyone: the login pages (password, its second step with a code or a key, passkey), and logging out (ends only the
# caller's own console session).
PUBLIC = {"login", "login_mfa", "login_mfa_key", "passkey_options", "passkey_verify", "logout"}
APPROVER_ONLY = {"deletion_approve", "deletion_reject", "erasure_cancel"}
# Need integrations.manage_webhooks (tests/integrations/test_console.py covers them with and without it).
WEBHOOK_MANAGER_ONLY = {name for name in ROUTES if name.startswith("webhook")}
SUPERUSER_ONLY = {"api_keys", "api_key_revoke"}


def console_url_names() -> set[str]:
    return {p.name for p in get_resolver("console.urls").url_patterns}


def test_every_console_url_is_crawled():
    assert console_url_names() == set(ROUTES) | PUBLIC


@pytest.fixture
def target(make_user, login):
    user = make_user(email="target@example.com", verified=False)
    user.email_verified_at = None
    return user


@pytest.fixture
def erasure(target):
    from gdpr import services as gdpr_services

    return gdpr_services.data_request_create(user=target, actor=target, type="erasure")


def urls_for(user, session_id, request_id=None) -> list[tuple[str, str, str, dict[str, str]]]:
    from django.urls import reverse

    request_id = request_id or uuid.uuid4()
    endpoint_id = uuid.uuid4()
    args = {
        **{name: [endpoint_id] for name in WEBHOOK_MANAGER_ONLY if name != "webhooks"},
        "webhook_replay": [endpoint_id, 1],
        "deletion_approve": [request_id],
        "deletion_reject": [request_id],
        "erasure_cancel": [request_id],
        "user": [user.pk],
        "session_revoke": [user.pk, session_id],
        "logout_all": [user.pk],
        "verification_resend": [user.pk],
        "deactivate": [user.pk],
        "reactivate": [user.pk],
        "outbox_retry": [1],
        "api_key_revoke": [uuid.uuid4()],
        "password_reset_send": [user.pk],
        "lockout_clear": [user.pk],
        "restore": [user.pk],
        "mfa_reset": [user.pk],
        "social_unlink": [user.pk, 1],
        "consent_history": [user.pk],
    }
    out = []
    for name, (method, partials) in ROUTES.items():
        url = reverse(f"console:{name}", args=args.get(name, []))
        out.append((name, method, url, {}))
        out.extend((name, method, url, htmx(p)) for p in partials)
    return out


@pytest.fixture
def live_session(target) -> Session:
    from datetime import timedelta

    from django.utils import timezone

    return Session.objects.create(
        user=target, expires_at=timezone.now() + timedelta(days=1), refresh_hash="x"
    )


def _state(target) -> tuple:
    from gdpr.models import DataRequest

    target.refresh_from_db()
    return (
        target.is_active,
        target.deleted_at,
        list(Session.objects.filter(user=target).values_list("revoked_at", flat=True)),
        list(DataRequest.objects.filter(user=target).values_list("status", flat=True)),
    )


def test_anonymous_is_sent_to_login(db, target, live_session, erasure):
    client = Client()
    before = _state(target)
    for _name, method, url, headers in urls_for(target, live_session.pk, erasure.pk):
        response = getattr(client, method)(url, headers=headers)
        if headers:
            assert response.status_code == 200, url
            assert response["HX-Redirect"].startswith("/console/login/?next="), url
        else:
            assert response.status_code == 302, (url, response.status_code)
            assert response["Location"].startswith("/console/login/?next="), url
    assert _state(target) == before


def test_non_staff_is_forbidden(db, target, live_session, erasure, make_user):
    client = client_for(make_user(email="plain@example.com"))
    before = _state(target)
    for _name, method, url, headers in urls_for(target, live_session.pk, erasure.pk):
        response = getattr(client, method)(url, headers=headers)
        assert response.status_code == 403, (url, response.status_code)
        assert b"staff only" in response.content
    assert _state(target) == before


def test_staff_reaches_every_page(staff_client, target, live_session, erasure):
    for name, method, url, headers in urls_for(target, live_session.pk, erasure.pk):
        if method == "get" and name not in WEBHOOK_MANAGER_ONLY:
            response = staff_client.get(url, headers=headers)
            if name in SUPERUSER_ONLY:
                assert response.status_code == 403 and b"superusers only" in response.content, url
                continue
            assert response.status_code in (200, 302), (url, response.status_code)
            if headers and response.status_code == 200:
                assert b"<html" not in response.content, url


def test_posts_without_csrf_token_are_refused(db, staff, approver, target, live_session, erasure):
    client = client_for(approver, enforce_csrf_checks=True)
    before = _state(target)
    for _name, method, url, headers in urls_for(target, live_session.pk, erasure.pk):
        if method == "post":
            response = client.post(url, {"reason": "because"}, headers=headers)
            assert response.status_code == 403, (url, response.status_code)
            assert b"CSRF" in response.content
    assert _state(target) == before
    # With the token from a page (as htmx sends it in X-CSRFToken), the same POST works.
    page = client.get(f"/console/users/{target.pk}/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        f"/console/users/{target.pk}/logout-all/", headers={**htmx("detail"), "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert Session.objects.get(pk=live_session.pk).revoked_at is not None


def test_staff_without_the_approver_permission_cannot_decide(staff, staff_client, target, erasure):
    assert not staff.has_perm("gdpr.approve_erasure")
    before = _state(target)
    for name, _method, url, headers in urls_for(target, uuid.uuid4(), erasure.pk):
        if name in APPROVER_ONLY:
            response = staff_client.post(url, {"reason": "no"}, headers=headers)
            assert response.status_code == 403, url
            assert b"permission" in response.content
    assert _state(target) == before
    refusals = AuditEvent.objects.filter(action="staff.action_refused")
    assert {(e.actor_id, e.subject_id, e.details["action"], e.details["reason"]) for e in refusals} == {
        (staff.pk, target.pk, "erasure.decide", "permission")
    }
    # The queue itself is visible, without decision buttons.
    page = staff_client.get("/console/deletions/")
    assert page.status_code == 200 and target.email.encode() in page.content
    assert b"Approve</button>" not in page.content


def test_get_never_changes_state(staff_client, target, live_session, erasure):
    before = _state(target)
    for _name, method, url, headers in urls_for(target, live_session.pk, erasure.pk):
        if method == "post":
            response = staff_client.get(url, headers=headers)
            assert response.status_code == 405, url
    assert _state(target) == before


def test_unknown_and_malformed_ids(staff_client, target):
    assert staff_client.get(f"/console/users/{uuid.uuid4()}/").status_code == 404
    assert staff_client.get("/console/users/not-a-uuid/").status_code == 404
    assert staff_client.post(f"/console/users/{uuid.uuid4()}/logout-all/").status_code == 404
    # A session id of another user is not found under this user.
    other = Session.objects.create(user=target, expires_at=target.date_joined, refresh_hash="y")
    stranger_url = f"/console/users/{uuid.uuid4()}/sessions/{other.pk}/revoke/"
    assert staff_client.post(stranger_url).status_code == 404


def test_logout_is_post_only_and_ends_the_console_session(staff_client):
    assert staff_client.get("/console/logout/").status_code == 405
    response = staff_client.post("/console/logout/")
    assert response.status_code == 302 and response["Location"] == "/console/login/"
    assert staff_client.get("/console/users/").status_code == 302


def test_deactivated_staff_loses_the_console(staff, staff_client):
    from accounts.models import User

    User.objects.filter(pk=staff.pk).update(is_active=False)
    response = staff_client.get("/console/users/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
