"""All writes of the gdpr app (split by subdomain; import this package: `from gdpr import services`)."""

from gdpr.services.consent import (
    CONSENT_HISTORY_VIEW,
    consent_history_disclose,
    consent_set,
    consents_erase,
)
from gdpr.services.erasure import erasure_run
from gdpr.services.export_build import export_run
from gdpr.services.exports import (
    export_download,
    export_download_check,
    export_download_url,
    export_files_erase,
    exports_purge_expired,
)
from gdpr.services.requests import (
    ERASURE_DECIDE,
    data_request_cancel,
    data_request_create,
    erasure_approve,
    erasure_cancel_for_restored,
    erasure_open_for_deleted,
    erasure_reject,
    erasures_enqueue_due,
    export_request_for_user,
    requests_requeue_stuck,
)

__all__ = [
    "CONSENT_HISTORY_VIEW",
    "ERASURE_DECIDE",
    "consent_history_disclose",
    "consent_set",
    "consents_erase",
    "data_request_cancel",
    "data_request_create",
    "erasure_approve",
    "erasure_cancel_for_restored",
    "erasure_open_for_deleted",
    "erasure_reject",
    "erasure_run",
    "erasures_enqueue_due",
    "export_download",
    "export_download_check",
    "export_download_url",
    "export_files_erase",
    "export_request_for_user",
    "export_run",
    "exports_purge_expired",
    "requests_requeue_stuck",
]
