from __future__ import annotations

import json

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import Profile
from audit import services as audit
from gdpr.exporters import Entry, Exporter, write_jsonl
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
