"""Running an approved erasure once its grace period has ended, and the eraser registry it runs.

Every class listed in settings.GDPR_ERASERS removes one kind of personal data of a user, usually by calling
the owning app's service (gdpr.erasers holds the built-in ones); another app adds its data by listing its
own class, without touching gdpr code. `erase(ctx)` runs inside the erasure's transaction, must be
idempotent (a re-run after a crash repeats it) and returns counts for the `gdpr.erasure_completed` audit
event. The audit log is pseudonymised after every eraser has run, so events written meanwhile are covered.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import User
from audit import services as audit
from core import mail
from gdpr.models import OPEN_STATUSES, DataRequest, ExportFile, RequestStatus, RequestType
from gdpr.services.common import claim, lock_if_still_ours, transition

logger = logging.getLogger(__name__)


@dataclass
class ErasureContext:
    user: User
    data_request: DataRequest


class Eraser:
    def erase(self, ctx: ErasureContext) -> dict[str, int]:
        raise NotImplementedError


def erasers_load() -> list[Eraser]:
    # Loaded by name, not imported: the built-in erasers call the services of this package.
    return [import_string(path)() for path in settings.GDPR_ERASERS]


def erasure_run(*, data_request_id: uuid.UUID) -> DataRequest | None:
    """The erasure job. Claims the request (approved and due, or running with its lease run out), mails the
    confirmation to the address while it still exists, runs every registered eraser, then pseudonymises the
    user's audit events, all in one transaction. Idempotent: a repeated run finds nothing left to erase."""
    data_request = claim(data_request_id, "erasure")
    if data_request is None:
        return None
    with transaction.atomic():
        locked = lock_if_still_ours(data_request)
        if locked is None:
            return None
        user = User.objects.select_for_update().get(pk=locked.user_id)
        if user.email:
            # No subject_id: this mail is the one undelivered row about the user that erasure must keep
            # (it is owed to the address being erased; the relay empties its payload once delivered).
            mail.enqueue(
                template="gdpr/email/erasure_completed",
                to=user.email,
                context={"first_name": user.first_name},
                # Read now: the relay renders it after the erasers have blanked the profile's locale.
                locale=mail.locale_of(user.pk),
            )
        # Read before the erasers delete the files: an old download link must answer 410 (gone), as for an
        # expired export, not 404 (never existed).
        token_hashes = dict(
            ExportFile.objects.filter(request__user=user).values_list("request_id", "token_hash")
        )
        ctx = ErasureContext(user=user, data_request=locked)
        counts: dict[str, Any] = {}
        for eraser in erasers_load():
            counts.update(eraser.erase(ctx))
        # Exports: built ones lost their files above; one still being built is discarded by its job, which
        # finds its request no longer running.
        exports = DataRequest.objects.select_for_update().filter(user=user, type=RequestType.EXPORT)
        for export in exports.filter(status=RequestStatus.READY):
            transition(
                export,
                RequestStatus.EXPIRED,
                note="erased",
                expired_token_hash=token_hashes.get(export.pk, export.expired_token_hash),
            )
        for export in exports.filter(status__in=OPEN_STATUSES):
            transition(export, RequestStatus.CANCELLED, note="erased", lease_owner="", lease_until=None)
        transition(
            locked,
            RequestStatus.COMPLETED,
            progress=100,
            completed_at=timezone.now(),
            lease_owner="",
            lease_until=None,
        )
        audit.record(
            "gdpr.erasure_completed", subject=user.pk, details={"request_id": str(locked.pk), **counts}
        )
        # Last, so that the events written above are pseudonymised too.
        audit.events_pseudonymise(subject_id=user.pk)
    logger.info("erasure %s completed", locked.pk)
    return locked
