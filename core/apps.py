from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: errors, shared API schemas, pagination, request context, mail and the outbox.
    It imports no other app of this project."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import mail, outbox, tasks

        outbox.set_kicker(tasks.outbox_relay)
        # The mail handler registers with the outbox on import.
        assert mail.SEND_TOPIC
