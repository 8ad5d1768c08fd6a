"""`manage.py console_roles` makes the default staff roles; the demo staff account holds every permission."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from accounts import services
from accounts.models import User
from audit.models import AuditEvent
from console.roles import ROLES
from tests.conftest import PASSWORD

# Every permission the console's actions need (docs/console.md, "Permissions").
CONSOLE_PERMISSIONS = {
    "accounts.view_user",
    "audit.view_auditevent",
    "accounts.force_logout",
    "accounts.deactivate_user",
    "accounts.resend_verification",
    "accounts.send_password_reset",
    "accounts.clear_lockout",
    "accounts.restore_user",
    "accounts.unlink_social_account",
    "accounts.reset_mfa",
    "gdpr.view_consentrecord",
    "gdpr.approve_erasure",
}


def labels(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


@pytest.mark.django_db
def test_creates_the_roles_and_is_idempotent():
    out = StringIO()
    call_command("console_roles", stdout=out)
    assert "Support: 11 permissions (added accounts.clear_lockout" in out.getvalue()
    support, approver = Group.objects.get(name="Support"), Group.objects.get(name="Approver")
    assert labels(support) == set(ROLES["Support"])
    assert labels(approver) == {"accounts.view_user", "audit.view_auditevent", "gdpr.approve_erasure"}
    assert labels(support) | labels(approver) == CONSOLE_PERMISSIONS
    event = AuditEvent.objects.get(action="staff.roles_ensured")
    assert event.actor_type == "system" and sorted(event.details["added"]) == ["Approver", "Support"]

    # A permission an operator added by hand is kept; a second run adds nothing and audits nothing.
    support.permissions.add(Permission.objects.get(codename="change_user"))
    again = StringIO()
    call_command("console_roles", stdout=again)
    assert again.getvalue().splitlines() == [
        "Support: 11 permissions (up to date)",
        "Approver: 3 permissions (up to date)",
    ]
    assert "accounts.change_user" in labels(Group.objects.get(name="Support"))
    assert AuditEvent.objects.filter(action="staff.roles_ensured").count() == 1


@pytest.mark.django_db
def test_a_removed_permission_comes_back():
    call_command("console_roles", stdout=StringIO())
    support = Group.objects.get(name="Support")
    support.permissions.remove(Permission.objects.get(codename="clear_lockout"))
    out = StringIO()
    call_command("console_roles", stdout=out)
    assert "Support: 11 permissions (added accounts.clear_lockout)" in out.getvalue()


@pytest.mark.django_db
def test_an_unknown_permission_is_an_error():
    with pytest.raises(LookupError):
        services.staff_roles_ensure(roles={"Odd": ["accounts.fly"]})
    assert not Group.objects.filter(name="Odd").exists()


@pytest.mark.django_db
def test_a_member_of_a_role_works_the_console(make_user):
    call_command("console_roles", stdout=StringIO())
    member = make_user(email="member@example.com", is_staff=True)
    member.groups.add(Group.objects.get(name="Support"))
    client = Client()
    assert client.post("/console/login/", {"username": member.email, "password": PASSWORD}).status_code == 302
    assert client.get("/console/users/").status_code == 200
    assert client.get("/console/audit/").status_code == 200


@pytest.mark.django_db
def test_the_demo_staff_holds_every_permission(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("demo_staff", stdout=StringIO())
    demo = User.objects.get(email="staff@custodian.local")
    assert demo.is_superuser and demo.is_staff
    every = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    }
    assert every >= CONSOLE_PERMISSIONS
    assert all(demo.has_perm(label) for label in every)
