"""Profile changes, soft deletion, and the staff actions on users (deactivate, reactivate, demo staff)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import errors, selectors, validators
from accounts.models import Profile, RevokeReason, Session, User
from accounts.services import reauth
from audit import services as audit
from core import mail, outbox

USER_UPDATABLE_FIELDS = frozenset({"first_name", "last_name", "username"})
PROFILE_UPDATABLE_FIELDS = frozenset({"phone", "birth_date", "website", "bio", "locale"})
# null clears these; for the other text fields null means "".
NULLABLE_FIELDS = frozenset({"username", "birth_date"})
# Published in the soft delete's transaction; gdpr opens the erasure request from it.
SOFT_DELETED_TOPIC = "accounts.user_soft_deleted"


def user_update(*, user: User, actor: User, changes: dict[str, Any]) -> User:
    """Apply allow-listed user and profile fields; anything else in `changes` is ignored (no mass assignment)."""
    changes = {k: ("" if v is None and k not in NULLABLE_FIELDS else v) for k, v in changes.items()}
    user_changes = {k: v for k, v in changes.items() if k in USER_UPDATABLE_FIELDS}
    profile_changes = {k: v for k, v in changes.items() if k in PROFILE_UPDATABLE_FIELDS}
    invalid = validators.profile_errors(profile_changes)
    if invalid:
        raise errors.ValidationFailed(invalid)
    if "username" in user_changes:
        user_changes["username"] = user_changes["username"] or None
        if user_changes["username"] and selectors.login_taken(
            email=None, username=user_changes["username"], exclude=user.pk
        ):
            raise errors.UsernameTaken()
    try:
        with transaction.atomic():
            changed: dict[str, Any] = {}
            for field, value in user_changes.items():
                if getattr(user, field) != value:
                    changed[field] = value
                    setattr(user, field, value)
            if changed:
                user.save(update_fields=list(changed))
            profile, _ = Profile.objects.get_or_create(user=user)
            changed_profile = [f for f, v in profile_changes.items() if getattr(profile, f) != v]
            for field in changed_profile:
                setattr(profile, field, profile_changes[field])
            if changed_profile:
                profile.save(update_fields=[*changed_profile, "updated_at"])
            # The caller's `user` may carry the profile the bearer check loaded with it; what the caller
            # answers with must be the row just saved, not that copy.
            user.profile = profile
            if changed or changed_profile:
                audit.record(
                    "user.updated",
                    actor=actor,
                    subject=user,
                    details={"fields": sorted([*changed, *changed_profile])},
                )
    except IntegrityError:
        raise errors.UsernameTaken()
    return user


def user_soft_delete(*, session: Session, password: str | None) -> User:
    """Soft delete: login ends now, e-mail and username are free to register again, every session is
    revoked. The deletion publishes SOFT_DELETED_TOPIC in its own transaction, so the erasure request
    (opened by gdpr's handler) cannot be lost.

    The user re-authenticates: with their password if they have one (wrong ones count toward the lockout),
    else on a session opened by a login within the re-auth window."""
    user = actor = session.user
    reauth.reauth_check(session=session, password=password, purpose="account_delete", password_required=True)
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.deleted_at is not None:
            return locked
        locked.deleted_at = now
        locked.save(update_fields=["deleted_at"])
        Session.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=RevokeReason.USER_DELETED
        )
        audit.record("user.deleted", actor=actor, subject=locked, details={"soft": True})
        mail.enqueue(
            template="account_deleted",
            to=locked.email,
            subject_id=locked.pk,
            context={"when": now.isoformat(timespec="seconds")},
        )
        outbox.publish(
            SOFT_DELETED_TOPIC,
            {"user_id": str(locked.pk), "actor_id": str(actor.pk)},
            subject_id=locked.pk,
        )
    user.deleted_at = now
    return locked


def user_deactivate(*, user: User, actor: User, reason: str = "") -> User:
    """Blocks login and ends every session at once. Idempotent: an inactive user is left as is, unaudited."""
    if user.pk == actor.pk:
        raise errors.SelfDeactivation()
    now = timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_active:
            return locked
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        ended = Session.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason=RevokeReason.DEACTIVATED
        )
        audit.record(
            "user.deactivated", actor=actor, subject=locked, details={"reason": reason, "sessions": ended}
        )
    return locked


def user_reactivate(*, user: User, actor: User) -> User:
    """Idempotent: an active user is left as is, unaudited."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            return locked
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        audit.record("user.reactivated", actor=actor, subject=locked)
    return locked


def staff_demo_ensure(*, email: str, password: str) -> User:
    """The embedded default's demo staff account (`manage.py demo_staff`): created as a verified superuser,
    or its password reset to `password`. Audited as a system action."""
    with transaction.atomic():
        user = User.objects.by_login(email).select_for_update().first()
        if user is None:
            user = User.objects.create_superuser(email=email, password=password, first_name="Demo")
            audit.record("user.registered", subject=user, details={"via": "demo_staff"})
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            audit.record("user.password_set", subject=user, details={"via": "demo_staff"})
    return user
