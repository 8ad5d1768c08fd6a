"""Who on the staff may do what to whom: the one rule every door (the console, the admin, a staff API) gets by
calling the accounts services, which check it before they change anything.

A staff member may do an action to a user when
- they are active staff and hold the action's permission (superusers hold every permission);
- the user is someone else, or the action is one a staff member may do to their own account (`on_self`);
- they outrank the user (for actions with `rank`): the user's permissions, their own and their groups',
  whether or not the user is active, are a subset of the staff member's; a superuser only for superusers.

A refusal is audited as `staff.action_refused` (the action, the reason: `not_staff`, `permission`, `self` or
`rank`) and raised as 403 `forbidden` or `insufficient_rank`. Default roles (groups) are made by
`manage.py console_roles`; docs/console.md lists every action and its permission.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from accounts import errors
from accounts.models import User
from audit import services as audit


@dataclass(frozen=True)
class StaffAction:
    """One thing staff do to a user: its name in the audit log, the permission it needs, whether a staff
    member may do it to their own account, and whether the target's rank matters (reads need no rank)."""

    name: str
    permission: str
    on_self: bool
    rank: bool = True


# The accounts app's staff actions. Where a service also serves the user's own request (ending one's own
# sessions through the API), it checks only when the actor is someone else, so `on_self` is moot there.
SESSION_REVOKE = StaffAction("session.revoke", "accounts.force_logout", on_self=True)
SESSIONS_REVOKE_ALL = StaffAction("sessions.revoke_all", "accounts.force_logout", on_self=True)
USER_DEACTIVATE = StaffAction("user.deactivate", "accounts.deactivate_user", on_self=False)
USER_REACTIVATE = StaffAction("user.reactivate", "accounts.deactivate_user", on_self=False)
VERIFICATION_RESEND = StaffAction("verification.resend", "accounts.resend_verification", on_self=True)
PASSWORD_RESET_SEND = StaffAction("password_reset.send", "accounts.send_password_reset", on_self=True)
# The lockout protects a password from guessing; its owner does not lift it for themselves.
LOCKOUT_CLEAR = StaffAction("lockout.clear", "accounts.clear_lockout", on_self=False)
USER_RESTORE = StaffAction("user.restore", "accounts.restore_user", on_self=False)
# Without the re-authentication the user's own door asks for, a staff session does not strip its own login methods.
SOCIAL_UNLINK = StaffAction("social.unlink", "accounts.unlink_social_account", on_self=False)
# Removing a user's second factors: like the lockout, not something to do to one's own account.
MFA_RESET = StaffAction("mfa.reset", "accounts.reset_mfa", on_self=False)
# The admin's edit of a user (activation, a password set).
USER_CHANGE = StaffAction("user.change", "accounts.change_user", on_self=True)


def _permissions_of(user: User) -> frozenset[str]:
    """The user's own and group permissions as "app_label.codename", whether or not the user is active
    (Django's backends answer nothing for an inactive user, which would let anyone reactivate an approver)."""
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return frozenset(f"{app_label}.{codename}" for app_label, codename in rows)


def staff_refusal(*, actor: User, target: User, action: StaffAction | None = None) -> str | None:
    """Why `actor` may not do `action` to `target` (`not_staff`, `permission`, `self`, `rank`), or None when
    they may. Without an action, only staff status and rank are checked."""
    if not (actor.is_active and actor.is_staff):
        return "not_staff"
    if action is not None and not actor.has_perm(action.permission):
        return "permission"
    if actor.pk == target.pk:
        return None if action is None or action.on_self else "self"
    if (action is not None and not action.rank) or actor.is_superuser:
        return None
    if target.is_superuser or not _permissions_of(target) <= _permissions_of(actor):
        return "rank"
    return None


def staff_may_act_on(*, actor: User, target: User, action: StaffAction | None = None) -> bool:
    """Whether `actor` may do `action` to `target` (without an action: whether they outrank the target).
    For showing or hiding a door; the services check again, with staff_action_authorize."""
    return staff_refusal(actor=actor, target=target, action=action) is None


_REFUSALS: dict[str, type[errors.AccountsError]] = {
    "not_staff": errors.StaffOnly,
    "permission": errors.StaffPermissionMissing,
    "self": errors.StaffSelfAction,
    "rank": errors.InsufficientRank,
}


def staff_action_authorize(*, actor: User, target: User, action: StaffAction) -> None:
    """Raise (403 `forbidden` or `insufficient_rank`) unless `actor` may do `action` to `target`, after
    auditing the refusal as `staff.action_refused`. Call it before the change's transaction, so the refusal
    is recorded although the change is not made."""
    reason = staff_refusal(actor=actor, target=target, action=action)
    if reason is None:
        return
    with transaction.atomic():
        audit.record(
            "staff.action_refused",
            actor=actor,
            subject=target,
            details={"action": action.name, "reason": reason, "permission": action.permission},
        )
    raise _REFUSALS[reason]()


def staff_roles_ensure(*, roles: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Create each role (a Group) and give it the listed permissions ("app_label.codename") it lacks.
    Permissions added to a group by hand are kept. Audits `staff.roles_ensured` (a system action) when
    anything changed. Returns, per role, the permissions added. LookupError for an unknown permission."""
    added: dict[str, list[str]] = {}
    with transaction.atomic():
        for name, wanted in roles.items():
            group, _ = Group.objects.get_or_create(name=name)
            have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
            missing = sorted(set(wanted) - have)
            for label in missing:
                app_label, _, codename = label.partition(".")
                permission = Permission.objects.filter(
                    content_type__app_label=app_label, codename=codename
                ).first()
                if permission is None:
                    raise LookupError(f"No permission {label!r}: run migrate first?")
                group.permissions.add(permission)
            added[name] = missing
        if any(added.values()):
            audit.record("staff.roles_ensured", details={"added": {k: v for k, v in added.items() if v}})
    return added
