from gdpr import services
from gdpr.management.commands._base import command

Command = command(
    "queue erasures whose grace period ended (request ids)",
    services.erasures_enqueue_due,
    "Queue the erasures whose grace period has ended.",
)
