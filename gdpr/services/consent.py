"""The consent ledger: append-only; the latest record per purpose is the current state."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from accounts import services as account_services
from accounts.models import User
from audit import services as audit
from core import context
from gdpr import errors
from gdpr.models import ConsentRecord


def purpose_check(purpose: str) -> None:
    if purpose not in settings.GDPR_CONSENT_PURPOSES:
        raise errors.UnknownPurpose()


def consent_set(*, user: User, actor: User, purpose: str, granted: bool) -> ConsentRecord:
    """Append a record under the current policy version. Setting the state it already has under that version
    appends nothing (PUT is idempotent) and returns the current record."""
    purpose_check(purpose)
    version = settings.GDPR_CONSENT_POLICY_VERSION
    with transaction.atomic():
        # Serialise one user's consent writes (a row lock on PostgreSQL, the write lock on SQLite).
        User.objects.select_for_update().filter(pk=user.pk).first()
        latest = ConsentRecord.objects.filter(user=user, purpose=purpose).order_by("-id").first()
        if latest is not None and latest.granted == granted and latest.policy_version == version:
            return latest
        record = ConsentRecord.objects.create(
            user=user,
            purpose=purpose,
            granted=granted,
            policy_version=version,
            ip=context.current().ip,
        )
        audit.record(
            "consent.granted" if granted else "consent.withdrawn",
            actor=actor,
            subject=user,
            details={"purpose": purpose, "policy_version": version, "record_id": record.pk},
        )
    return record


# Reading someone's consent ledger (with the IP of each record) is a disclosure of personal data: it needs
# its permission and a reason, and is audited. It changes nothing, so rank does not matter.
CONSENT_HISTORY_VIEW = account_services.StaffAction(
    "consent.history_view", "gdpr.view_consentrecord", on_self=True, rank=False
)


def consent_history_disclose(
    *, user: User, actor: User, reason: str, limit: int = 200
) -> list[ConsentRecord]:
    """The user's consent ledger, newest first (at most `limit` records), shown to a staff member
    (CONSENT_HISTORY_VIEW). Audited as `consent.history_viewed` with the reason and the records shown."""
    account_services.staff_action_authorize(actor=actor, target=user, action=CONSENT_HISTORY_VIEW)
    records = list(ConsentRecord.objects.filter(user=user).order_by("-id")[:limit])
    with transaction.atomic():
        audit.record(
            "consent.history_viewed",
            actor=actor,
            subject=user,
            details={"reason": reason, "records": len(records)},
        )
    return records


def consents_erase(*, user: User) -> int:
    """Erasure: the ledger stays (proof of what was agreed) but forgets the IP each record was given from.
    A queryset update, the one sanctioned change of a record. Idempotent; writes no audit event of its own
    (the erasure records the count). Returns the records blanked."""
    return ConsentRecord.objects.filter(user=user).exclude(ip=None).update(ip=None)
