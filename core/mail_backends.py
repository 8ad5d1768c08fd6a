"""The embedded default's mailbox: one file per message under EMAIL_FILE_PATH, named by its Message-ID.

A message delivered again (the outbox relay died between sending and recording it) has the same
Message-ID, so it finds its file already written and is not written twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend as DjangoFileBackend
from django.core.mail.message import EmailMessage

logger = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileBackend(DjangoFileBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        directory = Path(self.file_path)  # type: ignore[attr-defined]
        for message in email_messages:
            msg = message.message()  # Django gives every message a Message-ID
            message_id = str(msg["Message-ID"]).strip("<> ")
            path = directory / f"{_UNSAFE.sub('_', message_id)[:150]}.eml"
            if path.exists():
                logger.info("mail %s already written; not writing it twice", message_id)
                continue
            # Written whole under another name, then renamed: a reader never sees half a message.
            partial = path.with_suffix(".partial")
            partial.write_bytes(msg.as_bytes(linesep="\n") + b"\n" + b"-" * 79 + b"\n")
            partial.replace(path)
        return len(email_messages)
