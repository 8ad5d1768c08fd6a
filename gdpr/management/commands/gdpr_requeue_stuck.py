from gdpr import services
from gdpr.management.commands._base import command

Command = command(
    "re-queue requests stuck past their lease (request ids)",
    services.requests_requeue_stuck,
    "Re-queue data requests whose job died or was lost.",
)
