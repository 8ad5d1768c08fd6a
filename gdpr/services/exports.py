"""Building, downloading and purging exports."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
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
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from audit import services as audit
from audit.models import ActorType
from core import links, mail
from gdpr import errors, exporters
from gdpr.erasers import storage_delete
from gdpr.models import DataRequest, ExportFile, RequestStatus
from gdpr.services.common import LeaseLost, claim, lease_renew, lock_if_still_ours, transition

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
PARTIAL_DIR = ".partial"


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


# --- building -------------------------------------------------------------------------------------------


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
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
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


def _local_path(name: str) -> str | None:
    try:
        return default_storage.path(name)
    except NotImplementedError:
        return None


def _build(data_request: DataRequest, user: User) -> Built:
    """Write the ZIP under a temporary name and publish it under its final name only when whole: a rename on
    a filesystem storage, a single upload (atomic per object) on an object store."""
    final_name = f"{settings.GDPR_EXPORT_DIR}/{secrets.token_hex(16)}.zip"
    final_local = _local_path(final_name)
    if final_local is not None:
        partial = _local_path(
            f"{settings.GDPR_EXPORT_DIR}/{PARTIAL_DIR}/{data_request.pk}-{data_request.lease_owner}.zip"
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
        built = _build(data_request, user)
    except LeaseLost:
        logger.warning("export %s: lease lost; another job finishes it", data_request.pk)
        return None
    except Exception as exc:
        logger.exception("export %s failed", data_request.pk)
        return _fail(data_request, exc)
    return _finish(data_request, user, built)


def _finish(data_request: DataRequest, user: User, built: Built) -> DataRequest | None:
    with transaction.atomic():
        locked = lock_if_still_ours(data_request)
        if locked is None:
            storage_delete(built.storage_path)
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
        export_file.token_hash = token_hash(export_token(export_file))
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
                "link": export_download_url(export_file),
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


# --- download -------------------------------------------------------------------------------------------


def export_download(*, token: str) -> tuple[ExportFile, IO[bytes]]:
    """Spend one download of the export the token names and open its file. 404 for an unknown token, 410
    for an expired, used-up or purged one. Audited (the token holder is the actor, so no actor id)."""
    if not TOKEN_RE.match(token):
        raise errors.ExportNotFound()
    digest = token_hash(token)
    with transaction.atomic():
        export_file = ExportFile.objects.select_for_update().filter(token_hash=digest).first()
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
        export_file.downloads_left -= 1
        export_file.save(update_fields=["downloads_left"])
        request = DataRequest.objects.only("user_id").get(pk=export_file.request_id)
        audit.record(
            "gdpr.export_downloaded",
            subject=request.user_id,
            actor_type=ActorType.USER,
            details={"request_id": str(request.pk), "downloads_left": export_file.downloads_left},
        )
        handle = default_storage.open(export_file.storage_path, "rb")
    return export_file, handle


# --- purge ----------------------------------------------------------------------------------------------


def _stale_partials(older_than: timedelta) -> list[str]:
    folder = f"{settings.GDPR_EXPORT_DIR}/{PARTIAL_DIR}"
    if _local_path(folder) is None or not default_storage.exists(folder):
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
