from __future__ import annotations

import uuid

import pytest
from django.core import mail

from audit.models import AuditEvent
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.conftest import PASSWORD
from tests.console.conftest import client_for, htmx


@pytest.fixture
def requester(make_user):
    return make_user(email="leaving@example.com")


@pytest.fixture
def erasure(requester):
    return gdpr_services.data_request_create(user=requester, actor=requester, type="erasure")


@pytest.fixture
def approver_client(approver):
    assert approver.has_perm("gdpr.approve_erasure")
    return client_for(approver)


def test_queue_lists_pending_erasures(approver_client, erasure, api, make_user, login):
    # A user who deletes their account lands in the queue too.
    make_user(email="gone@example.com")
    tokens = login("gone@example.com")
    r = api.call("delete", "/me", {"password": PASSWORD}, token=tokens["access"])
    assert r.status_code == 202
    page = approver_client.get("/console/deletions/")
    assert page.status_code == 200
    assert b"leaving@example.com" in page.content and b"gone@example.com" in page.content
    partial = approver_client.get("/console/deletions/", headers=htmx("queue"))
    assert partial.content.decode().strip().startswith('<div id="queue">')
    assert partial.content.count(b"Approve</button>") == 2


def test_approve(approver, approver_client, erasure, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = approver_client.post(f"/console/deletions/{erasure.pk}/approve/", headers=htmx("queue"))
    assert response.status_code == 200
    assert b"approved" in response.content and b"leaving@example.com" in response.content
    erasure.refresh_from_db()
    assert erasure.status == "approved" and erasure.decided_by_id == approver.pk
    event = AuditEvent.objects.get(action="gdpr.erasure_approved")
    assert event.actor_id == approver.pk and event.actor_type == "staff"
    # The approval mail (the fixture's "received" mail, owed since, is delivered by the same relay run).
    assert [m.to for m in mail.outbox if "approved" in m.subject] == [["leaving@example.com"]]
    # Deciding twice is refused (it is no longer pending).
    again = approver_client.post(f"/console/deletions/{erasure.pk}/approve/", headers=htmx("queue"))
    assert again.status_code == 409
    assert AuditEvent.objects.filter(action="gdpr.erasure_approved").count() == 1


def test_plain_post_redirects_to_the_queue(approver_client, erasure):
    response = approver_client.post(f"/console/deletions/{erasure.pk}/approve/")
    assert response.status_code == 302 and response["Location"] == "/console/deletions/"


def test_reject_needs_a_reason(approver, approver_client, erasure):
    for reason in ("", "   ", "x" * 501):
        response = approver_client.post(
            f"/console/deletions/{erasure.pk}/reject/", {"reason": reason}, headers=htmx("queue")
        )
        assert response.status_code == 400
        assert b"A reason is required" in response.content
    erasure.refresh_from_db()
    assert erasure.status == "awaiting_approval"
    response = approver_client.post(
        f"/console/deletions/{erasure.pk}/reject/", {"reason": "legal hold"}, headers=htmx("queue")
    )
    assert response.status_code == 200
    erasure.refresh_from_db()
    assert erasure.status == "rejected" and erasure.reason == "legal hold"
    event = AuditEvent.objects.get(action="gdpr.erasure_rejected")
    assert event.actor_id == approver.pk and event.details["reason"] == "legal hold"


def test_approver_cannot_decide_about_themselves(approver, approver_client, login, api):
    tokens = login("approver@example.com")
    r = api.call("post", "/gdpr/requests", {"type": "erasure"}, token=tokens["access"])
    assert r.status_code == 202, r.content
    own = DataRequest.objects.get(user=approver)
    for url, data in (
        (f"/console/deletions/{own.pk}/approve/", {}),
        (f"/console/deletions/{own.pk}/reject/", {"reason": "no"}),
    ):
        response = approver_client.post(url, data, headers=htmx("queue"))
        assert response.status_code == 403
        assert b"about themselves" in response.content
    own.refresh_from_db()
    assert own.status == "awaiting_approval"
    assert not AuditEvent.objects.filter(
        action__in=["gdpr.erasure_approved", "gdpr.erasure_rejected"]
    ).exists()


def test_unknown_ids_and_export_ids_are_404(approver_client, requester):
    export = gdpr_services.data_request_create(user=requester, actor=requester, type="export")
    assert approver_client.post(f"/console/deletions/{uuid.uuid4()}/approve/").status_code == 404
    assert approver_client.post(f"/console/deletions/{export.pk}/approve/").status_code == 404
    assert approver_client.post("/console/deletions/nope/approve/").status_code == 404


def test_exports_list(staff_client, requester):
    gdpr_services.data_request_create(user=requester, actor=requester, type="export")
    page = staff_client.get("/console/exports/")
    assert page.status_code == 200 and b"leaving@example.com" in page.content
    partial = staff_client.get("/console/exports/", headers=htmx("results"))
    assert partial.content.decode().strip().startswith('<div id="results"')
    assert staff_client.get("/console/exports/?page=x").status_code == 400


def test_user_detail_shows_data_requests(staff_client, requester, erasure):
    body = staff_client.get(f"/console/users/{requester.pk}/").content.decode()
    assert "awaiting approval" in body and "awaiting_approval" not in body and "erasure" in body
