"""Events done through an admin API key name the key: actor_type api_key, actor_id the key's id, its
prefix in the details. Rows keep their HMAC content and the chain verifies across both kinds of rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from accounts.models import User
from audit import services
from audit.models import ActorType, AuditEvent
from audit.services import events as audit_events
from core import context


def _acting(owner: User) -> tuple[context.ActingKey, object]:
    key = context.ActingKey(id=uuid.uuid4(), prefix="cus_abcdefgh", owner_id=owner.pk)
    token = context.bind(context.RequestContext(ip="192.0.2.7", request_id="r1"))
    context.bind_api_key(key)
    return key, token


def test_the_owners_events_name_the_key(make_user: Callable[..., User]) -> None:
    owner = make_user(email="root@example.com", is_staff=True, is_superuser=True)
    other_staff = make_user(email="staff@example.com", is_staff=True)
    subject = make_user(email="ada@example.com")
    before = services.record("user.updated", actor=owner, subject=subject, details={"fields": ["x"]})
    key, token = _acting(owner)
    try:
        by_key = services.record("user.deactivated", actor=owner, subject=subject, details={"reason": "r"})
        # Only the owner's events: someone else's, or the system's, in the same request stay theirs.
        by_other = services.record("user.reactivated", actor=other_staff, subject=subject)
        by_system = services.record("session.token_reused", subject=subject)
        explicit = services.record("gdpr.export_downloaded", actor=owner, subject=subject, actor_type="user")
    finally:
        context.reset(token)  # type: ignore[arg-type]
    assert (before.actor_type, before.actor_id) == (ActorType.STAFF, owner.pk)
    assert (by_key.actor_type, by_key.actor_id) == ("api_key", key.id)
    assert by_key.details == {"reason": "r", "api_key_prefix": "cus_abcdefgh"}
    assert by_key.ip == "192.0.2.7" and by_key.request_id == "r1"
    assert (by_other.actor_type, by_other.actor_id) == (ActorType.STAFF, other_staff.pk)
    assert (by_system.actor_type, by_system.actor_id) == (ActorType.SYSTEM, None)
    assert (explicit.actor_type, explicit.actor_id) == ("user", owner.pk)
    # After the request the key is gone from the context.
    after = services.record("user.updated", actor=owner, subject=subject)
    assert (after.actor_type, after.actor_id) == (ActorType.STAFF, owner.pk)

    services.events_seal(lag_seconds=0)
    report = services.chain_verify()
    assert report.ok and report.sealed == AuditEvent.objects.count()
    stored = AuditEvent.objects.get(pk=by_key.pk)
    assert stored.row_hash == audit_events.row_hash(stored)


def test_the_key_is_not_carried_into_outbox_deliveries(make_user: Callable[..., User]) -> None:
    owner = make_user(email="root@example.com", is_staff=True, is_superuser=True)
    _key, token = _acting(owner)
    try:
        carried = context.RequestContext.from_dict(context.current().as_dict())
    finally:
        context.reset(token)  # type: ignore[arg-type]
    assert carried.api_key is None and carried.ip == "192.0.2.7"
