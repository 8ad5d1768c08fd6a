"""All writes of the gdpr app (split by subdomain; import this package: `from gdpr import services`)."""

from gdpr.services.consent import consent_set
from gdpr.services.erasure import erasure_run
from gdpr.services.exports import (
    export_download,
    export_download_url,
    export_run,
    export_token,
    exports_purge_expired,
    token_hash,
)
from gdpr.services.requests import (
    data_request_cancel,
    data_request_create,
    erasure_approve,
    erasure_open_for_deleted,
    erasure_reject,
    erasures_enqueue_due,
    export_request_for_user,
    requests_requeue_stuck,
)
from gdpr.services.retention import audit_retention, sessions_purge

__all__ = [
    "audit_retention",
    "consent_set",
    "data_request_cancel",
    "data_request_create",
    "erasure_approve",
    "erasure_open_for_deleted",
    "erasure_reject",
    "erasure_run",
    "erasures_enqueue_due",
    "export_download",
    "export_download_url",
    "export_request_for_user",
    "export_run",
    "export_token",
    "exports_purge_expired",
    "requests_requeue_stuck",
    "sessions_purge",
    "token_hash",
]
