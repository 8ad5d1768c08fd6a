from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

from accounts.models import Profile
from audit import selectors as audit_selectors
from audit import services as audit
from audit.models import AuditEvent
from gdpr.exporters import Entry, Exporter, merge_chunks_by_first, write_jsonl
from gdpr.models import DataRequest
from tests.gdpr.helpers import body, token_from, verify_zip


def _download(api, tokens):
    api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"])
    return verify_zip(body(api.call("get", f"/gdpr/exports/{token_from(mail.outbox[-1].body)}")))


def test_audit_events_about_and_by_the_user_in_order(api, user, tokens, make_user, approver):
    other = make_user(email="bob@example.com")
    audit.record("test.by_user_about_other", actor=user, subject=other, details={"n": 1})
    audit.record("test.by_staff_about_user", actor=approver, subject=user)
    audit.record("test.unrelated", actor=other, subject=other)
    _, files = _download(api, tokens)
    events = [json.loads(line) for line in files["audit_events.jsonl"].splitlines()]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    by_action = {e["action"]: e for e in events}
    assert by_action["test.by_user_about_other"]["actor"] == "you"
    assert by_action["test.by_staff_about_user"]["actor"] == "staff"
    assert "test.unrelated" not in by_action
    text = files["audit_events.jsonl"].decode()
    assert str(approver.pk) not in text and str(other.pk) not in text


def test_profile_and_avatar_in_export(api, user, tokens):
    Profile.objects.filter(user=user).update(
        bio="Hello", avatar=default_storage.save("avatars/a.webp", ContentFile(b"RIFF fake webp"))
    )
    _, files = _download(api, tokens)
    profile = json.loads(files["profile.json"])
    assert profile["email"] == user.email and profile["profile"]["bio"] == "Hello"
    assert files["avatar.webp"] == b"RIFF fake webp"
    assert json.loads(files["social_accounts.json"]) == []


class NotesExporter(Exporter):
    def entries(self, ctx):
        yield Entry("extra/notes.jsonl", lambda out: write_jsonl(out, ({"note": i} for i in range(5)), ctx))


class ClashingExporter(Exporter):
    def entries(self, ctx):
        yield Entry("profile.json", lambda out: out.write(b"{}") and 1)


def test_registered_exporter_adds_files(api, user, tokens, settings):
    settings.GDPR_EXPORTERS = [*settings.GDPR_EXPORTERS, "tests.gdpr.test_exporters.NotesExporter"]
    manifest, files = _download(api, tokens)
    assert manifest["files"]["extra/notes.jsonl"]["rows"] == 5
    assert files["extra/notes.jsonl"].splitlines()[0] == b'{"note": 0}'


@pytest.mark.filterwarnings("ignore")
def test_clashing_exporter_fails_the_request(api, user, tokens, settings):
    settings.GDPR_EXPORTERS = [*settings.GDPR_EXPORTERS, "tests.gdpr.test_exporters.ClashingExporter"]
    api.call("post", "/gdpr/requests", {"type": "export"}, token=tokens["access"])
    request = DataRequest.objects.get()
    assert request.status == "failed" and "profile.json" in request.error
    assert not [m for m in mail.outbox if m.subject == "Your data export is ready"]


def _reference_line(event: AuditEvent, viewer_id) -> bytes:
    """How one audit event was written before the exporter read raw rows: the ORM's values, the visibility
    rule in Python, json.dumps with DjangoJSONEncoder. The export file layout must not change."""
    row = {f: getattr(event, f) for f in ("id", "created_at", "action", "actor_type", "ip", "user_agent")}
    row |= {"request_id": event.request_id, "details": event.details}
    if not audit_selectors.event_origin_visible(
        actor_type=event.actor_type, actor_id=event.actor_id, viewer_id=viewer_id
    ):
        row["ip"], row["user_agent"] = None, ""
    row["actor"] = "you" if event.actor_id == viewer_id else event.actor_type
    return json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True).encode()


def test_audit_events_lines_are_byte_identical_to_the_reference_encoding(
    api, user, tokens, make_user, approver, settings
):
    settings.GDPR_EXPORT_CHUNK_SIZE = 3  # several chunks from both streams, merged
    other = make_user(email="bob@example.com")
    base = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    shapes = [
        dict(actor_type="user", actor_id=user.pk, subject_id=user.pk, created_at=base, ip="203.0.113.7"),
        dict(
            actor_type="staff",
            actor_id=approver.pk,
            subject_id=user.pk,
            ip="2001:db8::1",
            user_agent="Staff UA",
        ),
        dict(actor_type="staff", actor_id=user.pk, subject_id=other.pk, ip="198.51.100.1", user_agent="Own"),
        dict(actor_type="api_key", actor_id=uuid.uuid4(), subject_id=user.pk, ip="192.0.2.9", user_agent="k"),
        dict(actor_type="system", actor_id=None, subject_id=user.pk, ip=None),
        dict(actor_type="staff", actor_id=None, subject_id=user.pk, ip="192.0.2.1", user_agent="nobody"),
        dict(
            actor_type="user", actor_id=user.pk, subject_id=other.pk, created_at=base.replace(microsecond=400)
        ),
        dict(actor_type="user", actor_id=other.pk, subject_id=other.pk),  # not the user's
    ]
    details = [
        {"z": 1, "a": {"y": [1, 2.5, None, True], "b": 'é\u2028"q"\n'}},
        {"emoji": "😀", "path": "a\\b", "n": -3},
        {},
    ]
    for i in range(3):
        for j, shape in enumerate(shapes):
            fields = {
                "created_at": base.replace(microsecond=123456 + i),
                "user_agent": "Mozilla/5.0 «ü»",
            } | shape
            AuditEvent.objects.create(
                action=f"test.shape_{j}", request_id=f"r{i}{j}", details=details[(i + j) % 3], **fields
            )
    _, files = _download(api, tokens)
    lines = files["audit_events.jsonl"].splitlines()
    last_id = json.loads(lines[-1])["id"]  # events recorded after the build (export ready) are not in it
    mine = AuditEvent.objects.filter(Q(subject_id=user.pk) | Q(actor_id=user.pk), id__lte=last_id).order_by(
        "id"
    )
    assert len(lines) > 3 * 7
    assert lines == [_reference_line(e, user.pk) for e in mine]
    assert b"test.shape_7" not in files["audit_events.jsonl"]


def test_merge_chunks_by_first_interleaves_streams_in_order():
    a = iter([[(1,), (4,), (5,)], [(9,), (12,)]])
    b = iter([[(2,), (3,)], [(6,), (7,), (8,)], [(10,), (11,), (13,)]])
    merged = [row[0] for chunk in merge_chunks_by_first(a, b, iter([])) for row in chunk]
    assert merged == list(range(1, 14))
