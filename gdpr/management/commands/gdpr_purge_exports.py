from gdpr import services
from gdpr.management.commands._base import command

Command = command(
    "delete expired or used-up exports (request ids) and stale partial files",
    services.exports_purge_expired,
    "Delete expired export files and rows.",
)
