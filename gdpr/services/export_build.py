"""The export job: build the ZIP under the request's lease, then mark the request ready (or failed)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit import services as audit
from core import mail
from gdpr import exporters
from gdpr.models import DataRequest, ExportFile, RequestStatus
from gdpr.services import exports
from gdpr.services.common import LeaseLost, claim, lease_renew, lock_if_still_ours, transition

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1


class _HashingWriter:
    """Counts and hashes what an exporter writes into a ZIP member."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)


class _Progress:
    """Called after every exported chunk: renews the lease, reports progress, and sleeps the test-only delay."""

    def __init__(self, data_request: DataRequest, total: int) -> None:
        self.data_request = data_request
        self.total = max(1, total)
        self.done = 0
        self.interval = min(1.0, settings.GDPR_LEASE_SECONDS / 3)
        self.last = time.monotonic()

    def tick(self, rows: int) -> None:
        self.done += rows
        if settings.GDPR_EXPORT_CHUNK_DELAY:
            time.sleep(settings.GDPR_EXPORT_CHUNK_DELAY)
        now = time.monotonic()
        if now - self.last >= self.interval:
            lease_renew(self.data_request, progress=min(99, self.done * 100 // self.total))
            self.last = now


@dataclass
class Built:
    storage_path: str
    size: int
    sha256: str


def _write_zip(fh: IO[bytes], data_request: DataRequest, user: User) -> None:
    registered = exporters.exporters_load()
    progress = _Progress(data_request, sum(e.estimate(user) for e in registered))
    ctx = exporters.ExportContext(user=user, chunk_size=settings.GDPR_EXPORT_CHUNK_SIZE, tick=progress.tick)
    files: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(
        fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=settings.GDPR_EXPORT_COMPRESSLEVEL
    ) as archive:
        for exporter in registered:
            for entry in exporter.entries(ctx):
                if entry.name in files or entry.name == "manifest.json":
                    raise ValueError(f"two exporters produce {entry.name}")
                with archive.open(entry.name, "w", force_zip64=True) as member:
                    writer = _HashingWriter(member)
                    rows = entry.write(cast(IO[bytes], writer))
                files[entry.name] = {"sha256": writer.sha.hexdigest(), "rows": rows, "size": writer.size}
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "generated_at": timezone.now().isoformat(),
            "request_id": str(data_request.pk),
            "files": files,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))


def _sha256_file(path: str) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def archive_build(*, data_request: DataRequest, user: User) -> Built:
    """Write the ZIP under a temporary name and publish it under its final name only when whole: a rename on
    a filesystem storage, a single upload (atomic per object) on an object store."""
    final_name = f"{settings.GDPR_EXPORT_DIR}/{secrets.token_hex(16)}.zip"
    final_local = exports.local_path(final_name)
    if final_local is not None:
        partial = exports.local_path(
            f"{settings.GDPR_EXPORT_DIR}/{exports.PARTIAL_DIR}/{data_request.pk}-{data_request.lease_owner}.zip"
        )
        assert partial is not None
        os.makedirs(os.path.dirname(partial), exist_ok=True)
    else:
        descriptor, partial = tempfile.mkstemp(suffix=".zip")
        os.close(descriptor)
    try:
        with open(partial, "wb") as fh:
            _write_zip(fh, data_request, user)
        sha256, size = _sha256_file(partial)
        if final_local is not None:
            os.makedirs(os.path.dirname(final_local), exist_ok=True)
            os.replace(partial, final_local)
        else:
            with open(partial, "rb") as fh:
                final_name = default_storage.save(final_name, File(fh))
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return Built(storage_path=final_name, size=size, sha256=sha256)


def export_run(*, data_request_id: uuid.UUID) -> DataRequest | None:
    """The export job. Idempotent: it claims the request (a running one only once its lease ran out), builds
    the ZIP, then in one transaction stores the file row, marks the request ready and queues the mail. A job
    that lost its lease meanwhile discards its file, so there is one file and one mail per request."""
    data_request = claim(data_request_id, "export")
    if data_request is None:
        return None
    user = User.objects.get(pk=data_request.user_id)
    try:
        built = archive_build(data_request=data_request, user=user)
    except LeaseLost:
        logger.warning("export %s: lease lost; another job finishes it", data_request.pk)
        return None
    except Exception as exc:
        logger.exception("export %s failed", data_request.pk)
        return _fail(data_request, exc)
    return export_finish(data_request=data_request, user=user, built=built)


def export_finish(*, data_request: DataRequest, user: User, built: Built) -> DataRequest | None:
    with transaction.atomic():
        locked = lock_if_still_ours(data_request)
        if locked is None:
            exports.storage_delete(built.storage_path)
            return None
        now = timezone.now()
        export_file = ExportFile(
            request=locked,
            storage_path=built.storage_path,
            size=built.size,
            sha256=built.sha256,
            token_salt=secrets.token_hex(16),
            created_at=now,
            expires_at=now + timedelta(days=settings.GDPR_EXPORT_TTL_DAYS),
            downloads_left=settings.GDPR_EXPORT_MAX_DOWNLOADS,
        )
        export_file.token_hash = exports.token_hash(exports.export_token(export_file))
        export_file.save(force_insert=True)
        transition(
            locked, RequestStatus.READY, progress=100, completed_at=now, lease_owner="", lease_until=None
        )
        audit.record(
            "gdpr.export_ready",
            subject=user,
            details={"request_id": str(locked.pk), "size": built.size, "sha256": built.sha256},
        )
        mail.enqueue(
            template="gdpr/email/export_ready",
            to=user.email,
            subject_id=user.pk,
            context={
                "first_name": user.first_name,
                "link": exports.export_download_url(export_file),
                "expires_at": export_file.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                "downloads": export_file.downloads_left,
            },
        )
    return locked


def _fail(data_request: DataRequest, exc: Exception) -> DataRequest | None:
    with transaction.atomic():
        locked = lock_if_still_ours(data_request)
        if locked is None:
            return None
        transition(
            locked,
            RequestStatus.FAILED,
            note=type(exc).__name__,
            error=f"{type(exc).__name__}: {exc}"[:500],
            completed_at=timezone.now(),
            lease_owner="",
            lease_until=None,
        )
        audit.record(
            "gdpr.export_failed",
            subject=locked.user_id,
            details={"request_id": str(locked.pk), "error": type(exc).__name__},
        )
    return locked
