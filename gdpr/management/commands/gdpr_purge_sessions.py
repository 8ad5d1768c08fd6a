from gdpr import services
from gdpr.management.commands._base import command

Command = command(
    "delete ended sessions past retention",
    services.sessions_purge,
    "Delete sessions that ended more than SESSION_RETENTION_DAYS ago.",
)
