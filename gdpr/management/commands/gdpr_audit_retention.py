from gdpr import services
from gdpr.management.commands._base import command

Command = command(
    "delete audit events past retention",
    services.audit_retention,
    "Delete audit events older than AUDIT_RETENTION_DAYS.",
)
