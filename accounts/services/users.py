"""Profile changes, soft deletion, and the staff actions on users (deactivate, reactivate, demo staff)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import errors, selectors, validators
from accounts.models import Profile, RevokeReason, Session, User
from accounts.services import passwords, reauth, staff
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


def user_soft_delete(*, session: Session, password: str | None, otp: str | None = None) -> User:
    """Soft delete: login ends now, e-mail and username are free to register again, every session is
    revoked. The deletion publishes SOFT_DELETED_TOPIC in its own transaction, so the erasure request
    (opened by gdpr's handler) cannot be lost.

    The user re-authenticates: with their password if they have one (wrong ones count toward the lockout),
    else on a session opened by a login within the re-auth window; with MFA, the second factor too."""
    user = actor = session.user
    reauth.reauth_check(
        session=session, password=password, purpose="account_delete", password_required=True, otp=otp
    )
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
    """Blocks login and ends every session at once; staff who may (staff.USER_DEACTIVATE), never on
    themselves. Idempotent: an inactive user is left as is, unaudited."""
    if user.pk == actor.pk:
        raise errors.SelfDeactivation()
    staff.staff_action_authorize(actor=actor, target=user, action=staff.USER_DEACTIVATE)
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
    staff.staff_action_authorize(actor=actor, target=user, action=staff.USER_REACTIVATE)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active:
            return locked
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        audit.record("user.reactivated", actor=actor, subject=locked)
    return locked


def user_access_set(
    *,
    user: User,
    actor: User,
    is_staff: bool,
    is_superuser: bool,
    groups: Iterable[Group],
    permissions: Iterable[Permission],
) -> User:
    """Staff access of a user as the admin edits it: the staff and superuser flags, groups and direct
    permissions. Audits `user.access_changed` (what changed, and the new values) when anything changed;
    the console and the admin read these on every request, so a revoked right ends at once."""
    groups, permissions = set(groups), set(permissions)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        flags = {"is_staff": is_staff, "is_superuser": is_superuser}
        changed = [name for name, value in flags.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, flags[name])
        if changed:
            locked.save(update_fields=changed)
        if set(locked.groups.all()) != groups:
            locked.groups.set(groups)
            changed.append("groups")
        if set(locked.user_permissions.all()) != permissions:
            locked.user_permissions.set(permissions)
            changed.append("user_permissions")
        if changed:
            audit.record(
                "user.access_changed",
                actor=actor,
                subject=locked,
                details={
                    "fields": changed,
                    **flags,
                    "groups": sorted(g.name for g in groups),
                    "user_permissions": sorted(
                        f"{p.content_type.app_label}.{p.codename}" for p in permissions
                    ),
                },
            )
    return locked


def staff_demo_ensure(*, email: str, password: str) -> User:
    """The embedded default's demo staff account (`manage.py demo_staff`): created as a verified superuser,
    or, when its password differs, set to `password` by `password_set` (which ends its sessions). Audited
    as a system action."""
    with transaction.atomic():
        user = User.objects.by_login(email).select_for_update().first()
        if user is None:
            user = User.objects.create_superuser(email=email, password=password, first_name="Demo")
            audit.record("user.registered", subject=user, details={"via": "demo_staff"})
            return user
    # Comparing with the configured password is what makes the command idempotent; it is no sign-in.
    if not user.check_password(password):
        passwords.password_set(user=user, actor=None, new_password=password)
    return user


def user_erase(*, user: User) -> User:
    """Erasure of the account itself: the row is kept (soft-deleted, inactive, no usable password) with
    every personal field of the user and their profile blanked; the e-mail and username are then free to
    register again. The avatar files are avatar_erase's. Idempotent; writes no audit event of its own (the
    erasure that calls it records what it did)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.email = ""
        locked.username = None
        locked.first_name = ""
        locked.last_name = ""
        locked.is_active = False
        locked.deleted_at = locked.deleted_at or timezone.now()
        locked.set_unusable_password()
        locked.save(
            update_fields=[
                "email",
                "username",
                "first_name",
                "last_name",
                "is_active",
                "deleted_at",
                "password",
            ]
        )
        Profile.objects.filter(user=locked).update(
            phone="", birth_date=None, website="", bio="", locale="", updated_at=timezone.now()
        )
    return locked
