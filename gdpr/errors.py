from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class GdprError(DomainError):
    pass


class RequestNotFound(GdprError):
    status = 404
    code = "not_found"
    message = _("No such data request.")


class RequestOpen(GdprError):
    status = 409
    code = "request_open"
    message = _("You already have an open request of this type.")


class RequestNotCancellable(GdprError):
    status = 409
    code = "request_not_cancellable"
    message = _("This request can no longer be cancelled.")


class RequestNotPending(GdprError):
    status = 409
    code = "request_not_pending"
    message = _("This request is not waiting for a decision.")


class ReasonRequired(GdprError):
    status = 422
    code = "validation_error"
    message = _("Give a reason for cancelling someone else's request.")

    def __init__(self) -> None:
        super().__init__(details={"fields": {"reason": [self.message]}})


class SelfApproval(GdprError):
    status = 403
    code = "self_approval"
    message = _("Nobody may decide on a request about themselves or one they opened.")


class UserDeleted(GdprError):
    status = 409
    code = "user_deleted"
    message = _("The account is deleted; its data waits for erasure.")


class ExportNotFound(GdprError):
    status = 404
    code = "not_found"
    message = _("No such export.")


class ExportGone(GdprError):
    status = 410
    code = "export_gone"
    message = _(
        "This download link has expired, has been used up, or its data was erased. Request a new export."
    )


class UnknownPurpose(GdprError):
    status = 404
    code = "unknown_purpose"
    message = _("No such consent purpose.")


class ErasureRunning(GdprError):
    status = 409
    code = "erasure_running"
    message = _("The erasure of this account is running right now; it can no longer be stopped.")
