from audit import services as audit_services
from gdpr.management.commands._base import command

Command = command(
    "delete audit events past retention",
    audit_services.events_retention,
    "Delete audit events older than AUDIT_RETENTION_DAYS.",
)
