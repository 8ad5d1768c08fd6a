"""The gdpr and core services the erasure calls for data they own (gdpr.erasers adapts them). The erasure end to
end is in test_erasure.py."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction

from core import mail, outbox
from core.models import OutboxMessage, OutboxStatus
from gdpr import services
from gdpr.models import ConsentRecord, DataRequest, ExportFile
from tests.conftest import actions


def _built_export(user) -> ExportFile:
    request = DataRequest.objects.create(user=user, type="export", status="pending")
    services.export_run(data_request_id=request.pk)
    return ExportFile.objects.get(request=request)


def test_export_files_erase(user, make_user):
    mine = _built_export(user)
    theirs = _built_export(make_user(email="bob@example.com"))
    before = actions()
    assert services.export_files_erase(user=user) == {"export_files": 1, "export_rows": 1}
    assert not default_storage.exists(mine.storage_path)
    assert not ExportFile.objects.filter(pk=mine.pk).exists()
    assert default_storage.exists(theirs.storage_path) and ExportFile.objects.filter(pk=theirs.pk).exists()
    assert actions() == before
    assert services.export_files_erase(user=user) == {"export_files": 0, "export_rows": 0}


def test_consents_erase_keeps_the_ledger_and_forgets_the_ip(user, make_user):
    bob = make_user(email="bob@example.com")
    for who in (user, bob):
        ConsentRecord.objects.create(
            user=who, purpose="marketing_email", granted=True, policy_version="1", ip="203.0.113.9"
        )
        ConsentRecord.objects.create(user=who, purpose="marketing_email", granted=False, policy_version="1")
    before = actions()
    assert services.consents_erase(user=user) == 1
    assert ConsentRecord.objects.filter(user=user).count() == 2
    assert not ConsentRecord.objects.filter(user=user).exclude(ip=None).exists()
    assert ConsentRecord.objects.get(user=bob, granted=True).ip == "203.0.113.9"
    assert actions() == before
    assert services.consents_erase(user=user) == 0


def test_outbox_forget_subject_drops_only_undelivered_rows_about_the_user(user, make_user):
    bob = make_user(email="bob@example.com")
    with transaction.atomic():
        for who in (user, bob):
            mail.enqueue(template="welcome", to=who.email, subject_id=who.pk, context={"link": "x"})
        mail.enqueue(template="welcome", to=user.email, context={"link": "x"})
    delivered = OutboxMessage.objects.create(
        topic=mail.SEND_TOPIC, handler="core.mail.send", subject_id=user.pk
    )
    OutboxMessage.objects.filter(pk=delivered.pk).update(status=OutboxStatus.DELIVERED, payload={})
    failed = OutboxMessage.objects.filter(subject_id=user.pk, status=OutboxStatus.PENDING).get()
    OutboxMessage.objects.filter(pk=failed.pk).update(status=OutboxStatus.FAILED)

    assert outbox.forget_subject(subject_id=user.pk) == 1
    assert not OutboxMessage.objects.filter(pk=failed.pk).exists()
    left = OutboxMessage.objects.order_by("id")
    assert [(m.subject_id, m.status) for m in left] == [
        (bob.pk, "pending"),
        (None, "pending"),
        (user.pk, "delivered"),
    ]
    assert outbox.forget_subject(subject_id=user.pk) == 0
