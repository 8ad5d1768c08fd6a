from __future__ import annotations

import uuid

import pytest
from django.core import mail

from gdpr.models import DataRequest, DataRequestEvent
from tests.conftest import actions, assert_error
from tests.gdpr.helpers import body, token_from, verify_zip


def _create(api, tokens, type_="export"):
    return api.call("post", "/gdpr/requests", {"type": type_}, token=tokens["access"])


def test_export_request_builds_and_mails_link(api, user, tokens):
    r = _create(api, tokens)
    assert r.status_code == 202, r.content
    created = r.json()
    assert created["type"] == "export"
    # huey runs inline in tests: the export is built on commit.
    got = api.call("get", f"/gdpr/requests/{created['id']}", token=tokens["access"]).json()
    assert got["status"] == "ready" and got["progress"] == 100
    assert got["download"]["downloads_left"] == 3
    ready = [m for m in mail.outbox if m.subject == "Your data export is ready"]
    assert len(ready) == 1 and ready[0].to == [user.email]
    token = token_from(ready[0].body)
    assert token_from(got["download"]["url"]) == token
    stored = DataRequest.objects.get(pk=created["id"]).export_file
    assert token not in (stored.token_hash, stored.token_salt, stored.storage_path)
    statuses = list(
        DataRequestEvent.objects.filter(request_id=created["id"]).values_list("to_status", flat=True)
    )
    assert statuses == ["pending", "running", "ready"]
    assert actions(subject_id=user.pk)[-3:] == [
        "gdpr.export_requested",
        "gdpr.export_started",
        "gdpr.export_ready",
    ]


def test_download_headers_limit_and_audit(api, user, tokens):
    _create(api, tokens)
    token = token_from(mail.outbox[-1].body)
    for left in (2, 1, 0):
        r = api.call("get", f"/gdpr/exports/{token}")
        assert r.status_code == 200
        assert r["Cache-Control"] == "no-store"
        assert r["Referrer-Policy"] == "no-referrer"
        assert r["Content-Type"] == "application/zip"
        assert r["Content-Disposition"].startswith('attachment; filename="custodian-export-')
        _, files = verify_zip(body(r))
        # Counted once the whole file went out.
        assert DataRequest.objects.get().export_file.downloads_left == left
        assert {
            "profile.json",
            "sessions.csv",
            "consents.csv",
            "audit_events.jsonl",
            "social_accounts.json",
        } <= set(files)
    assert actions(action="gdpr.export_downloaded") == ["gdpr.export_downloaded"] * 3
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")
    assert len(actions(action="gdpr.export_downloaded")) == 3


def test_download_after_expiry_is_gone_and_purge_deletes_file(
    api, user, tokens, time_machine, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.utils import timezone

    created = _create(api, tokens).json()
    token = token_from(mail.outbox[-1].body)
    export_file = DataRequest.objects.get(pk=created["id"]).export_file
    assert default_storage.exists(export_file.storage_path)
    time_machine.move_to(timezone.now() + timezone.timedelta(days=7, minutes=1))
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")
    call_command("gdpr_purge_exports")
    assert not default_storage.exists(export_file.storage_path)
    assert DataRequest.objects.get(pk=created["id"]).status == "expired"
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 410, "export_gone")
    got = api.call("get", f"/gdpr/requests/{created['id']}", token=login_again(api)).json()
    assert got["download"] is None


def login_again(api):
    from tests.conftest import PASSWORD

    return api.post_json("/auth/token", {"login": "ada@example.com", "password": PASSWORD}).json()["access"]


@pytest.mark.parametrize(
    "token",
    ["abc", "x" * 43, "A" * 42 + "!", "A" * 200, "..%2F..%2Fetc", "%00" * 10],
)
def test_download_unknown_or_malformed_token_is_404(api, token):
    assert_error(api.call("get", f"/gdpr/exports/{token}"), 404)


def test_download_tampered_token_is_404(api, user, tokens):
    _create(api, tokens)
    token = token_from(mail.outbox[-1].body)
    tampered = ("B" if token[0] != "B" else "C") + token[1:]
    assert_error(api.call("get", f"/gdpr/exports/{tampered}"), 404, "not_found")
    assert not actions(action="gdpr.export_downloaded")


def test_one_open_request_per_type(api, user, tokens):
    assert _create(api, tokens, "erasure").status_code == 202
    assert_error(_create(api, tokens, "erasure"), 409, "request_open")
    assert DataRequest.objects.filter(user=user, type="erasure").count() == 1
    # An export is another type: allowed.
    assert _create(api, tokens, "export").status_code == 202


def test_open_export_blocks_another(api, user, tokens):
    DataRequest.objects.create(user=user, type="export", status="pending")
    assert_error(_create(api, tokens), 409, "request_open")


def test_daily_limit_counts_rows(api, user, tokens, settings):
    settings.GDPR_REQUESTS_PER_DAY = 2
    assert _create(api, tokens).status_code == 202
    assert _create(api, tokens).status_code == 202
    r = _create(api, tokens)
    body_ = assert_error(r, 429, "rate_limited")
    assert int(r["Retry-After"]) > 0 and body_["details"]["retry_after"] == int(r["Retry-After"])
    assert DataRequest.objects.filter(user=user).count() == 2


def test_list_and_get_only_own(api, user, tokens, make_user):
    other = make_user(email="bob@example.com")
    theirs = DataRequest.objects.create(user=other, type="export", status="pending")
    mine = _create(api, tokens).json()
    listed = api.call("get", "/gdpr/requests", token=tokens["access"]).json()
    assert [i["id"] for i in listed["items"]] == [mine["id"]] and listed["count"] == 1
    assert_error(api.call("get", f"/gdpr/requests/{theirs.pk}", token=tokens["access"]), 404, "not_found")
    assert_error(api.call("post", f"/gdpr/requests/{theirs.pk}/cancel", token=tokens["access"]), 404)
    assert DataRequest.objects.get(pk=theirs.pk).status == "pending"


def test_cancel_erasure_then_not_again(api, user, tokens):
    created = _create(api, tokens, "erasure").json()
    r = api.call("post", f"/gdpr/requests/{created['id']}/cancel", token=tokens["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_error(
        api.call("post", f"/gdpr/requests/{created['id']}/cancel", token=tokens["access"]),
        409,
        "request_not_cancellable",
    )
    assert "gdpr.erasure_cancelled" in actions(subject_id=user.pk)


def test_ready_export_cannot_be_cancelled(api, user, tokens):
    created = _create(api, tokens).json()
    assert_error(
        api.call("post", f"/gdpr/requests/{created['id']}/cancel", token=tokens["access"]),
        409,
        "request_not_cancellable",
    )


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("{not json", 400),
        ("[]", 400),
        ({}, 422),
        ({"type": 5}, 422),
        ({"type": "delete_everything"}, 422),
        ({"type": ["export"]}, 422),
        ({"type": None}, 422),
    ],
)
def test_create_bad_input(api, user, tokens, payload, status):
    assert_error(api.call("post", "/gdpr/requests", payload, token=tokens["access"]), status)
    assert not DataRequest.objects.exists()


def test_create_huge_body(api, user, tokens):
    r = api.call(
        "post", "/gdpr/requests", '{"type": "export", "x": "' + "a" * 2_000_000 + '"}', token=tokens["access"]
    )
    assert_error(r, 413, "payload_too_large")
    assert not DataRequest.objects.exists()


def test_create_ignores_unknown_fields(api, user, tokens, make_user):
    other = make_user(email="bob@example.com")
    r = api.call(
        "post",
        "/gdpr/requests",
        {
            "type": "erasure",
            "user": str(other.pk),
            "user_id": str(other.pk),
            "status": "approved",
            "scheduled_for": "2000-01-01T00:00:00Z",
        },
        token=tokens["access"],
    )
    assert r.status_code == 202
    stored = DataRequest.objects.get()
    assert stored.user_id == user.pk and stored.status == "awaiting_approval" and stored.scheduled_for is None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/gdpr/requests"),
        ("post", "/gdpr/requests"),
        ("get", f"/gdpr/requests/{uuid.uuid4()}"),
        ("post", f"/gdpr/requests/{uuid.uuid4()}/cancel"),
    ],
)
def test_requests_need_bearer(api, method, path):
    assert_error(api.call(method, path, {"type": "export"} if method == "post" else None), 401)
    assert_error(
        api.call(method, path, {"type": "export"} if method == "post" else None, token="not-a-jwt"), 401
    )


@pytest.mark.parametrize(
    "path", ["/gdpr/requests/not-a-uuid", "/gdpr/requests/1", "/gdpr/requests/not-a-uuid/cancel"]
)
def test_non_uuid_ids(api, user, tokens, path):
    method = "post" if path.endswith("cancel") else "get"
    assert_error(api.call(method, path, token=tokens["access"]), 422, "validation_error")


def test_unknown_id_is_404(api, user, tokens):
    assert_error(api.call("get", f"/gdpr/requests/{uuid.uuid4()}", token=tokens["access"]), 404, "not_found")


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "offset=-1"])
def test_list_bad_paging(api, user, tokens, query):
    assert_error(api.call("get", f"/gdpr/requests?{query}", token=tokens["access"]), 422, "validation_error")


def test_expired_or_revoked_session_cannot_request(api, user, tokens, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    api.call("post", "/auth/logout", token=tokens["access"])
    assert_error(_create(api, tokens), 401)
    time_machine.move_to(timezone.now() + timedelta(minutes=16))
    assert_error(_create(api, tokens), 401)
    assert not DataRequest.objects.exists()


def _ready_export(api, tokens):
    _create(api, tokens)
    token = token_from(mail.outbox[-1].body)
    return token, DataRequest.objects.get(type="export").export_file


def _abandon(response):
    """What a WSGI server does when the client goes away mid-body: stop iterating and close the body. The
    test client wraps the body in an iterator whose closing closes the response (keeping the test
    database connection open, as a server's would stay open for the next request)."""
    response._iterator.close()


def test_head_checks_a_link_without_counting(api, user, tokens):
    token, export_file = _ready_export(api, tokens)

    for _ in range(5):
        r = api.call("head", f"/gdpr/exports/{token}")
        assert r.status_code == 200 and r.content == b""
        assert r["Content-Length"] == str(export_file.size) and r["Content-Type"] == "application/zip"
        assert r["X-Content-SHA256"] == export_file.sha256 and r["Cache-Control"] == "no-store"

    export_file.refresh_from_db()
    assert export_file.downloads_left == 3
    assert not actions(action="gdpr.export_downloaded")
    assert api.call("head", "/gdpr/exports/" + "A" * 43).status_code == 404
    export_file.downloads_left = 0
    export_file.save(update_fields=["downloads_left"])
    assert api.call("head", f"/gdpr/exports/{token}").status_code == 410


def test_an_interrupted_download_does_not_count(api, user, tokens, monkeypatch):
    from gdpr.services import exports

    token, export_file = _ready_export(api, tokens)
    monkeypatch.setattr(exports, "DOWNLOAD_CHUNK_BYTES", 256)
    assert export_file.size > 2 * 256

    for _ in range(5):
        r = api.call("get", f"/gdpr/exports/{token}")
        assert len(next(iter(r.streaming_content))) == 256
        _abandon(r)

    export_file.refresh_from_db()
    assert export_file.downloads_left == 3
    assert not actions(action="gdpr.export_downloaded")
    # The whole file, then, counts once, with the downloader's address in the audit event.
    r = api.call("get", f"/gdpr/exports/{token}", REMOTE_ADDR="198.51.100.9")
    verify_zip(body(r))
    export_file.refresh_from_db()
    assert export_file.downloads_left == 2
    from audit.models import AuditEvent

    event = AuditEvent.objects.get(action="gdpr.export_downloaded")
    assert event.ip == "198.51.100.9" and event.request_id == r["X-Request-ID"]
