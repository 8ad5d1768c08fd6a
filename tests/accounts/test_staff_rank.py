"""The staff rule in accounts.services (every door calls it): permission, rank, own account, and the audit of a
refusal. The console's tests drive the same rule through its pages (tests/console/test_staff_rank.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import errors, services
from accounts.models import User
from audit.models import AuditEvent


def grant(user: User, *codenames: str, via_group: str = "") -> User:
    perms = Permission.objects.filter(codename__in=codenames)
    if via_group:
        group, _ = Group.objects.get_or_create(name=via_group)
        group.permissions.add(*perms)
        user.groups.add(group)
    else:
        user.user_permissions.add(*perms)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def support(make_user):
    return grant(
        make_user(email="support@example.com", is_staff=True), "force_logout", "clear_lockout", "view_user"
    )


@pytest.mark.parametrize(
    ("target_perms", "superuser", "expected"),
    [
        ((), False, None),  # a plain user
        (("force_logout",), False, None),  # a subset
        (("force_logout", "clear_lockout", "view_user"), False, None),  # the same rights
        (("force_logout", "approve_erasure"), False, "rank"),  # one right the actor lacks
        ((), True, "rank"),  # a superuser
    ],
)
def test_rank_is_a_subset_of_permissions(support, make_user, target_perms, superuser, expected):
    target = grant(make_user(email="t@example.com", is_staff=True, is_superuser=superuser), *target_perms)
    assert (
        services.staff_refusal(actor=support, target=target, action=services.SESSIONS_REVOKE_ALL) == expected
    )
    assert services.staff_may_act_on(actor=support, target=target) is (expected is None)


def test_group_permissions_count_on_both_sides(make_user):
    actor = grant(make_user(email="a@example.com", is_staff=True), "force_logout", via_group="Ops")
    target = grant(make_user(email="t@example.com", is_staff=True), "approve_erasure", via_group="Deciders")
    assert services.staff_refusal(actor=actor, target=target, action=services.SESSIONS_REVOKE_ALL) == "rank"
    actor = grant(actor, "approve_erasure", via_group="Deciders")
    assert services.staff_refusal(actor=actor, target=target, action=services.SESSIONS_REVOKE_ALL) is None


def test_a_deactivated_accounts_permissions_still_count(support, make_user):
    target = grant(make_user(email="t@example.com", is_staff=True, is_active=False), "approve_erasure")
    assert services.staff_refusal(actor=support, target=target) == "rank"


def test_superusers_act_on_superusers(make_user):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    other = make_user(email="other@example.com", is_staff=True, is_superuser=True)
    assert services.staff_refusal(actor=boss, target=other, action=services.USER_RESTORE) is None


@pytest.mark.parametrize(
    ("actor_fields", "expected"),
    [({"is_staff": False}, "not_staff"), ({"is_staff": True, "is_active": False}, "not_staff")],
)
def test_only_active_staff_act(make_user, user, actor_fields, expected):
    actor = make_user(email="x@example.com", is_superuser=True, **actor_fields)
    assert services.staff_refusal(actor=actor, target=user, action=services.SESSION_REVOKE) == expected


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (services.SESSIONS_REVOKE_ALL, True),
        (services.VERIFICATION_RESEND, True),
        (services.PASSWORD_RESET_SEND, True),
        (services.LOCKOUT_CLEAR, False),
        (services.USER_RESTORE, False),
        (services.SOCIAL_UNLINK, False),
        (services.USER_DEACTIVATE, False),
    ],
    ids=lambda a: a.name if isinstance(a, services.StaffAction) else str(a),
)
def test_own_account(make_user, action, allowed):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    assert (services.staff_refusal(actor=boss, target=boss, action=action) is None) is allowed


def test_a_refusal_is_audited_and_raised(support, make_user):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    with pytest.raises(errors.InsufficientRank) as refused:
        services.staff_action_authorize(actor=support, target=boss, action=services.LOCKOUT_CLEAR)
    assert (refused.value.status, refused.value.code) == (403, "insufficient_rank")
    with pytest.raises(errors.StaffPermissionMissing) as refused_too:
        services.staff_action_authorize(actor=support, target=boss, action=services.USER_RESTORE)
    assert (refused_too.value.status, refused_too.value.code) == (403, "forbidden")
    events = AuditEvent.objects.filter(action="staff.action_refused").order_by("id")
    assert [(e.actor_id, e.subject_id, e.details) for e in events] == [
        (
            support.pk,
            boss.pk,
            {"action": "lockout.clear", "reason": "rank", "permission": "accounts.clear_lockout"},
        ),
        (
            support.pk,
            boss.pk,
            {"action": "user.restore", "reason": "permission", "permission": "accounts.restore_user"},
        ),
    ]


def test_a_user_ending_their_own_sessions_needs_no_permission(api, user, login):
    first = login()
    assert api.call("post", "/auth/logout-all", token=first["access"]).status_code == 204
    assert not AuditEvent.objects.filter(action="staff.action_refused").exists()


def test_services_refuse_before_changing_anything(support, make_user):
    boss = make_user(email="boss@example.com", is_staff=True, is_superuser=True)
    with pytest.raises(errors.InsufficientRank):
        services.sessions_revoke_all(user=boss, actor=support, reason="force_logout")
    with pytest.raises(errors.StaffPermissionMissing):
        services.user_deactivate(user=boss, actor=support)
    with pytest.raises(errors.StaffPermissionMissing):
        services.password_set(user=boss, actor=support, new_password="another-long-passphrase-1")
    boss.refresh_from_db()
    assert boss.is_active and boss.check_password("correct-horse-battery-9")
    assert not AuditEvent.objects.filter(action__in=["session.revoked_all", "user.password_set"]).exists()
