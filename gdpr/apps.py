from django.apps import AppConfig


class GdprConfig(AppConfig):
    name = "gdpr"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers gdpr's outbox handlers, among them the one that opens the erasure of a deleted account
        # (accounts publishes the deletion; it never imports gdpr).
        from gdpr import handlers  # noqa: F401
