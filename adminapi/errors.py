from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class AdminApiError(DomainError):
    pass


class ApiKeyInvalid(AdminApiError):
    status = 401
    code = "api_key_invalid"
    message = _("The API key is not valid.")


class ApiKeyExpired(AdminApiError):
    status = 401
    code = "api_key_expired"
    message = _("The API key has expired.")


class ApiKeyRevoked(AdminApiError):
    status = 401
    code = "api_key_revoked"
    message = _("The API key has been revoked, or its owner is no longer an active superuser.")


class UserNotFound(AdminApiError):
    status = 404
    code = "not_found"
    message = "No such user."


class InsufficientScope(AdminApiError):
    status = 403
    code = "insufficient_scope"
    message = _("The API key does not hold the scope this operation needs.")

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"The API key does not hold the scope {scope}, which this operation needs.",
            details={"required_scope": scope},
            # RFC 6750, section 3.1: the scope the request lacks.
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )


class KeyOwnerRequired(AdminApiError):
    status = 403
    code = "forbidden"
    message = _("Only an active superuser may create, own or revoke API keys.")


class ValidationFailed(AdminApiError):
    status = 422
    code = "validation_error"
    message = _("The input did not validate.")

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(details={"fields": fields})
