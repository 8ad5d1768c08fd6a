"""Errors of webhook management. They reuse the generic codes: these operations have no public API door
(the console and manage.py show the message)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class IntegrationsError(DomainError):
    pass


class InvalidEndpoint(IntegrationsError):
    """A refused URL or event type list; details.fields names the field."""

    status = 422
    code = "validation_error"
    message = _("The endpoint settings are not valid.")

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, details={"fields": {field: [message]}})


class PermissionDenied(IntegrationsError):
    status = 403
    code = "forbidden"
    message = _("You do not have the permission to manage webhooks.")
