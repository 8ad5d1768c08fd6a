from __future__ import annotations

import sys
from typing import Any

from django.apps import AppConfig
from django.core.signals import got_request_exception
from django.http import HttpRequest


def _note_unhandled(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Django sends this from inside its `except` for an exception no view or middleware handled (the
    console, the admin, plain views); the request's access record then carries the traceback."""
    from config import logging as logs

    exc = sys.exc_info()[1]
    if request is not None and exc is not None:
        logs.exception_note(request, exc)


class ConfigConfig(AppConfig):
    name = "config"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the system checks)

        got_request_exception.connect(_note_unhandled, dispatch_uid="config.note_unhandled_exception")
