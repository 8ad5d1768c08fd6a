"""The gdpr app's reactions to accounts: its outbox handlers, and the hook that cancels a restored
account's erasure inside the restore's transaction."""

from __future__ import annotations

import uuid

from accounts import services as account_services
from accounts.models import User
from accounts.services import users as account_users
from core import outbox
from core.models import OutboxMessage
from gdpr import services, tasks
from gdpr.services import common


@outbox.handler(account_users.SOFT_DELETED_TOPIC, transactional=True, key="gdpr.open_erasure_on_delete")
def open_erasure(message: OutboxMessage) -> None:
    """The account was soft-deleted: its erasure request is opened (idempotent: an open one is kept; none
    is opened for an account restored before this ran)."""
    user = User.objects.get(pk=uuid.UUID(str(message.payload["user_id"])))
    if user.deleted_at is None:
        # Support restored the account before this ran: there is nothing to erase.
        return
    actor_id = message.payload.get("actor_id")
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    services.erasure_open_for_deleted(user=user, actor=actor)


@outbox.handler(common.JOB_TOPIC, transactional=False, key="gdpr.job_enqueue")
def job_enqueue(message: OutboxMessage) -> None:
    """Queue the export or erasure job of a request. A repeat queues it twice, which is harmless: the job
    claims its request under a lease, so the second delivery finds nothing to do."""
    request_id, kind = str(message.payload["request_id"]), str(message.payload["type"])
    if kind == "export":
        tasks.export_build(request_id)
    else:
        tasks.erasure_execute(request_id)


account_services.restore_hook_register(services.erasure_cancel_for_restored)
