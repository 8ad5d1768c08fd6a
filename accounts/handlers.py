"""The accounts app's outbox handlers: the second half of flows whose effect must not wait on the request
or be lost with it. Each is idempotent by the outbox row."""

from __future__ import annotations

from django.core.files.storage import default_storage

from accounts.services import avatar, passwords, registration
from core import outbox
from core.models import OutboxMessage


@outbox.handler(passwords.RESET_TOPIC, transactional=True, key="accounts.password_reset_send")
def password_reset_send(message: OutboxMessage) -> None:
    # A repeat after a crash re-runs the lookup inside the same transaction as the mail it owes.
    passwords.password_reset_send(email=str(message.payload["email"]))


@outbox.handler(registration.RESEND_TOPIC, transactional=True, key="accounts.verification_resend")
def verification_resend(message: OutboxMessage) -> None:
    registration.email_verification_resend_deliver(email=str(message.payload["email"]))


@outbox.handler(avatar.FILES_DELETE_TOPIC, transactional=False, key="accounts.files_delete")
def files_delete(message: OutboxMessage) -> None:
    # Deleting a file that is already gone is a no-op, so a repeat is harmless; a storage error retries.
    for name in message.payload.get("names", []):
        default_storage.delete(str(name))
