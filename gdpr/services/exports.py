"""A built export's life: its download token and link, downloads, purging when expired or used up, and
erasure. Building it is the export job's (export_build)."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from audit import services as audit
from audit.models import ActorType
from core import context, links
from gdpr import errors
from gdpr.models import DataRequest, ExportFile, RequestStatus
from gdpr.services.common import transition

logger = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PARTIAL_DIR = ".partial"


def local_path(name: str) -> str | None:
    """The file system path of a storage name, or None on a storage without one (an object store)."""
    try:
        return default_storage.path(name)
    except NotImplementedError:
        return None


def storage_delete(path: str) -> int:
    """Delete a stored file if it exists; 1 if it did. Idempotent."""
    if path and default_storage.exists(path):
        default_storage.delete(path)
        return 1
    return 0


# --- tokens ---------------------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def export_token(export_file: ExportFile) -> str:
    """The download token: 256 bits, an HMAC under the server key of the file id and a 128-bit salt from
    `secrets`. The database keeps only the token's hash (for lookup) and the salt, so a database leak alone
    yields no working link, while the owner's authenticated API view can show the link again."""
    digest = salted_hmac(
        "gdpr.export-token", f"{export_file.pk}|{export_file.token_salt}", algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def export_download_url(export_file: ExportFile, *, request_origin: str = "") -> str:
    """The API's own public URL of the download (core.links: PUBLIC_API_URL, else the origin of the request
    being answered, else FRONTEND_URL's origin), never a frontend page."""
    return links.api_url(f"/api/v1/gdpr/exports/{export_token(export_file)}", request_origin=request_origin)


# --- download -------------------------------------------------------------------------------------------

DOWNLOAD_CHUNK_BYTES = 1 << 16


def export_download_check(*, token: str) -> ExportFile:
    """The export the token names, if it can be downloaded now; reads only (a HEAD probe, and the first step
    of a download). 404 for an unknown token; 410 for an expired, used-up, purged or erased one."""
    if not TOKEN_RE.match(token):
        raise errors.ExportNotFound()
    digest = token_hash(token)
    export_file = ExportFile.objects.filter(token_hash=digest).first()
    if export_file is None:
        if DataRequest.objects.filter(expired_token_hash=digest).exists():
            raise errors.ExportGone()
        raise errors.ExportNotFound()
    if (
        export_file.expires_at <= timezone.now()
        or export_file.downloads_left <= 0
        or not default_storage.exists(export_file.storage_path)
    ):
        raise errors.ExportGone()
    return export_file


def export_download(*, token: str) -> tuple[ExportFile, Iterator[bytes]]:
    """Open the export the token names for download (errors as `export_download_check`). The download is
    counted (one of its downloads_left, audited with the token holder as actor) when the returned chunks
    are exhausted, that is when the server asks for more after writing the last byte: an interrupted
    download or a HEAD probe uses none. Downloads started while one was left may all finish; the count
    then stops at zero."""
    export_file = export_download_check(token=token)
    handle = default_storage.open(export_file.storage_path, "rb")
    return export_file, _download_chunks(export_file, handle, context.current())


def _download_chunks(
    export_file: ExportFile, handle: IO[bytes], ctx: context.RequestContext
) -> Iterator[bytes]:
    try:
        yield from iter(lambda: handle.read(DOWNLOAD_CHUNK_BYTES), b"")
    finally:
        # Also when the server stops early (client gone): closing the generator lands here, never below.
        handle.close()
    # The request's context is gone by now (the body is sent after the middleware returned): the audit
    # event gets the downloader's address and request id back from the one taken at the start.
    bound = context.bind(ctx)
    try:
        export_download_count(export_file_id=export_file.pk)
    except Exception:
        # The client has its file; failing to count must not turn a delivered download into an error.
        logger.exception("export %s: a completed download could not be counted", export_file.pk)
    finally:
        context.reset(bound)


def export_download_count(*, export_file_id: uuid.UUID) -> None:
    """Count one completed download. A file purged or erased meanwhile has nothing left to count."""
    with transaction.atomic():
        export_file = ExportFile.objects.select_for_update().filter(pk=export_file_id).first()
        if export_file is None:
            return
        export_file.downloads_left = max(0, export_file.downloads_left - 1)
        export_file.save(update_fields=["downloads_left"])
        request = DataRequest.objects.only("user_id").get(pk=export_file.request_id)
        audit.record(
            "gdpr.export_downloaded",
            subject=request.user_id,
            actor_type=ActorType.USER,
            details={"request_id": str(request.pk), "downloads_left": export_file.downloads_left},
        )


# --- purge ----------------------------------------------------------------------------------------------


def _stale_partials(older_than: timedelta) -> list[str]:
    folder = f"{settings.GDPR_EXPORT_DIR}/{PARTIAL_DIR}"
    if local_path(folder) is None or not default_storage.exists(folder):
        return []
    cutoff = timezone.now() - older_than
    _, names = default_storage.listdir(folder)
    paths = [f"{folder}/{n}" for n in names]
    return [p for p in paths if default_storage.get_modified_time(p) < cutoff]


def exports_purge_expired(*, dry_run: bool = False) -> list[str]:
    """Delete the files and rows of expired or used-up exports (their links then answer 410) and partial
    files left by killed jobs. Returns the request ids (and partial paths) concerned."""
    now = timezone.now()
    due = ExportFile.objects.filter(Q(expires_at__lte=now) | Q(downloads_left=0))
    partials = _stale_partials(timedelta(seconds=max(3600, 4 * settings.GDPR_LEASE_SECONDS)))
    if dry_run:
        return [str(r) for r in due.values_list("request_id", flat=True)] + partials
    done: list[str] = []
    for export_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            export_file = ExportFile.objects.select_for_update(skip_locked=True).filter(pk=export_id).first()
            if export_file is None:
                continue
            storage_delete(export_file.storage_path)
            data_request = DataRequest.objects.select_for_update().get(pk=export_file.request_id)
            expired = export_file.expires_at <= now
            transition(
                data_request,
                RequestStatus.EXPIRED,
                note="expired" if expired else "downloads used up",
                expired_token_hash=export_file.token_hash,
            )
            export_file.delete()
            audit.record(
                "gdpr.export_purged",
                subject=data_request.user_id,
                details={"request_id": str(data_request.pk), "reason": "expired" if expired else "used_up"},
            )
            done.append(str(data_request.pk))
    for path in partials:
        storage_delete(path)
    return done + partials


def export_files_erase(*, user: User) -> dict[str, int]:
    """Erasure: delete the user's export files from storage and their rows (their links then answer 404).
    Idempotent; writes no audit event of its own (the erasure records the counts)."""
    files = ExportFile.objects.filter(request__user=user)
    deleted = sum(storage_delete(f.storage_path) for f in files)
    rows, _ = files.delete()
    return {"export_files": deleted, "export_rows": rows}
