from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class DownSMTPBackend(BaseEmailBackend):
    """Stands in for an SMTP server that refuses connections."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        raise ConnectionRefusedError("SMTP server unreachable")
