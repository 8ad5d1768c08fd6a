"""`manage.py outbox_relay`: delivers what is due in this process and prints the counts and the backlog."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core import mail as django_mail
from django.core.management import CommandError, call_command
from django.db import transaction

from core import mail
from core.models import OutboxMessage


def relay_command(*args: str) -> str:
    out = StringIO()
    call_command("outbox_relay", *args, stdout=out)
    return out.getvalue()


def test_it_delivers_everything_due_in_batches_and_reports(db) -> None:
    with transaction.atomic():
        for i in range(5):
            mail.enqueue(template="welcome", to=f"u{i}@example.com", context={})
    out = relay_command("--batch-size", "2")
    assert out.splitlines() == [
        "claimed 5, delivered 5, retrying 0, failed 0, lost 0, released 0",
        "backlog: pending 0, failed 0, oldest pending 0 s",
    ]
    assert sorted(m.to[0] for m in django_mail.outbox) == [f"u{i}@example.com" for i in range(5)]
    assert relay_command().startswith("claimed 0, delivered 0,")  # nothing twice


def test_it_reports_what_failed_and_what_is_left(db, settings) -> None:
    settings.EMAIL_BACKEND = "tests.support.mail.DownSMTPBackend"
    with transaction.atomic():
        mail.enqueue(template="welcome", to="a@example.com", context={})
    out = relay_command()
    assert out.splitlines()[0] == "claimed 1, delivered 0, retrying 1, failed 0, lost 0, released 0"
    assert out.splitlines()[1].startswith("backlog: pending 1, failed 0, oldest pending ")
    assert OutboxMessage.objects.get().attempts == 1


@pytest.mark.parametrize("size", ["0", "-3"])
def test_a_batch_size_below_one_is_refused(db, size) -> None:
    with pytest.raises(CommandError, match="at least 1"):
        relay_command("--batch-size", size)
