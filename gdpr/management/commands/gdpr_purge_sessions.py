from accounts import services as accounts_services
from gdpr.management.commands._base import command

Command = command(
    "delete ended sessions past retention",
    accounts_services.sessions_purge,
    "Delete sessions that ended more than SESSION_RETENTION_DAYS ago.",
)
