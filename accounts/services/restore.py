"""Support restores a soft-deleted account before its erasure has run.

The deletion opened an erasure request in another app (gdpr), which accounts does not import. That app
registers a restore hook here at start-up; user_restore calls every hook inside its own transaction, so the
account comes back and its erasure is cancelled together, or neither happens (an outbox event handled after
the commit would leave a window in which a due erasure job runs on the restored account). A hook may refuse
the restore by raising a DomainError (an erasure job is running right now).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import errors, selectors
from accounts.models import User
from accounts.services import staff
from audit import services as audit
from core import mail

RestoreHook = Callable[..., object]
_hooks: list[RestoreHook] = []


def restore_hook_register(hook: RestoreHook) -> RestoreHook:
    """Call `hook(user=..., actor=...)` inside every restore's transaction, before the user row is locked
    (the order an erasure job locks its request and the user). Idempotent."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def user_restore(*, user: User, actor: User, reason: str) -> User:
    """Undo a soft deletion (staff.USER_RESTORE): the account signs in again with its e-mail address and
    username, and every restore hook runs (gdpr cancels the open erasure request). Refused with
    NotRestorable when the account is not deleted or its erasure has run (the address is blanked), and with
    RestoreConflict when a live account now holds its e-mail address or username. The sessions the
    deletion ended stay ended. Audited as `user.restored`; the owner is mailed."""
    staff.staff_action_authorize(actor=actor, target=user, action=staff.USER_RESTORE)
    if user.deleted_at is None or not user.email:
        raise errors.NotRestorable()
    now = timezone.now()
    try:
        with transaction.atomic():
            for hook in _hooks:
                hook(user=user, actor=actor)
            locked = User.objects.select_for_update().get(pk=user.pk)
            if locked.deleted_at is None or not locked.email:
                raise errors.NotRestorable()
            taken = selectors.login_taken(email=locked.email, username=locked.username, exclude=locked.pk)
            if taken is not None:
                raise errors.RestoreConflict(
                    gettext("%(reason)s A live account holds it now, so this one cannot be restored.")
                    % {"reason": taken.message},
                    details={"conflict": taken.code},
                )
            deleted_at = locked.deleted_at
            locked.deleted_at = None
            locked.save(update_fields=["deleted_at"])
            audit.record(
                "user.restored",
                actor=actor,
                subject=locked,
                details={"reason": reason, "deleted_at": deleted_at.isoformat(timespec="seconds")},
            )
            mail.enqueue(
                template="account_restored",
                to=locked.email,
                subject_id=locked.pk,
                context={
                    "first_name": locked.first_name,
                    "when": now.strftime("%Y-%m-%d %H:%M UTC"),
                    "link": mail.link("/login"),
                },
            )
    except IntegrityError:
        # Someone registered the address or username between the check and the save.
        raise errors.RestoreConflict()
    user.deleted_at = None
    return locked
