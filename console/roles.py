"""The console's default staff roles, as Django groups (`manage.py console_roles` creates them). A staff
member's rights are the permissions of their groups; each action's permission is listed in
docs/console.md. Superusers hold every permission without a role."""

from __future__ import annotations

SUPPORT = "Support"
APPROVER = "Approver"

ROLES: dict[str, list[str]] = {
    # Helping users with their accounts day to day.
    SUPPORT: [
        "accounts.view_user",
        "audit.view_auditevent",
        "accounts.force_logout",
        "accounts.deactivate_user",
        "accounts.resend_verification",
        "accounts.send_password_reset",
        "accounts.clear_lockout",
        "accounts.restore_user",
        "accounts.unlink_social_account",
        # Removing the second factors of a user who lost them all (mailed to the user, audited with a reason).
        "accounts.reset_mfa",
        "gdpr.view_consentrecord",
    ],
    # Deciding on erasure requests (kept apart from support, so that approving an erasure and acting on
    # accounts are two people's rights unless someone is given both roles).
    APPROVER: [
        "accounts.view_user",
        "audit.view_auditevent",
        "gdpr.approve_erasure",
    ],
}
