"""The fixed registry of admin API scopes. A key holds a list of them; every admin operation needs exactly
one, and each scope allows exactly the operations listed here (docs/api.md, "Admin API")."""

from __future__ import annotations

USERS_READ = "users:read"
USERS_LOGOUT = "users:logout"
USERS_DEACTIVATE = "users:deactivate"
GDPR_EXPORT = "gdpr:export"
GDPR_ERASURE_READ = "gdpr:erasure:read"
GDPR_ERASURE_APPROVE = "gdpr:erasure:approve"

# scope → what it allows, in the order forms and documentation show them.
SCOPES: dict[str, str] = {
    USERS_READ: "Search users and read one user's account.",
    USERS_LOGOUT: "End every session of a user (force logout).",
    USERS_DEACTIVATE: "Deactivate and reactivate users.",
    GDPR_EXPORT: "Start a data export on a user's behalf (the link is mailed to the user).",
    GDPR_ERASURE_READ: "List erasure requests.",
    GDPR_ERASURE_APPROVE: "Approve or reject erasure requests.",
}


def scopes_normalise(scopes: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """Known scopes without duplicates, in registry order. Unknown ones are the caller's to refuse."""
    wanted = set(scopes)
    return [scope for scope in SCOPES if scope in wanted]
