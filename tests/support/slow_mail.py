"""A mailbox that is slow to leave: the embedded default's file backend, which records every send attempt and
then waits SLOW_MAIL_SECONDS after writing each message. A relay killed in that wait has sent a mail it has
not yet marked delivered, the window in which a crash can cause a repeat."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.mail.message import EmailMessage

from core.mail_backends import FileBackend


class SlowFileBackend(FileBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        attempts = Path(self.file_path).parent / "mail-attempts.log"  # type: ignore[attr-defined]
        for message in email_messages:
            with attempts.open("a") as log:
                log.write(f"{message.extra_headers.get('Message-ID', '')}\n")
            super().send_messages([message])
            time.sleep(settings.SLOW_MAIL_SECONDS)
        return len(email_messages)
