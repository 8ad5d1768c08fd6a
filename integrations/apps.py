from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Outbound webhooks: what Custodian tells other services. Above gdpr and below the console; the lower
    apps never import it (it subscribes to their audit actions)."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations import events, handlers  # noqa: F401  (registers the outbox handlers)

        events.subscribe()
