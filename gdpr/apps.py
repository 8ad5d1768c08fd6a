from typing import Any

from django.apps import AppConfig


class GdprConfig(AppConfig):
    name = "gdpr"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import signals

        # accounts never imports gdpr: it announces the deletion (after commit) and gdpr opens the erasure.
        signals.user_soft_deleted.connect(_open_erasure, dispatch_uid="gdpr.open_erasure_on_delete")


def _open_erasure(sender: Any, user: Any, actor: Any = None, **kwargs: Any) -> None:
    from gdpr import services

    services.erasure_open_for_deleted(user=user, actor=actor)
