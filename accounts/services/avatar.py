"""Avatar writes. Files go through Django's storage API (file system by default, S3 through django-storages;
docs/security.md), under server-generated names; the database row is written only after both files are.
Replaced files are deleted through the outbox once the change is committed."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from accounts import errors, images
from accounts.models import Profile, User
from audit import services as audit
from core import outbox

logger = logging.getLogger(__name__)

AVATAR_DIR = "avatars"
FILES_DELETE_TOPIC = "accounts.files_delete"


def files_delete(names: list[str]) -> None:
    """Delete stored files; missing ones are fine (idempotent), a storage error is logged and skipped."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            # An orphaned file is harmless (its name is unguessable); the profile row is the truth.
            logger.error("avatar: could not delete %s from storage", name, exc_info=True)


def _read_bounded(upload: File) -> bytes:
    """The upload's bytes, refusing more than AVATAR_MAX_BYTES whatever size the client declared."""
    limit = settings.AVATAR_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise errors.FileTooLarge(details={"max_bytes": limit})
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise errors.FileTooLarge(details={"max_bytes": limit})
    return bytes(data)


def avatar_set(*, user: User, upload: File, actor: User) -> Profile:
    """Validate, re-encode and store a new avatar with its thumbnail; the previous files are deleted after
    the commit. Raises FileTooLarge (413), UnsupportedImage (415), InvalidImage (422); nothing is stored
    then."""
    avatar = images.avatar_process(_read_bounded(upload))
    stem = f"{AVATAR_DIR}/{secrets.token_hex(16)}"
    saved: list[str] = []
    try:
        saved.append(default_storage.save(f"{stem}.{images.OUTPUT_EXTENSION}", ContentFile(avatar.image)))
        saved.append(
            default_storage.save(f"{stem}_thumb.{images.OUTPUT_EXTENSION}", ContentFile(avatar.thumbnail))
        )
        with transaction.atomic():
            profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
            previous = [profile.avatar, profile.avatar_thumbnail]
            profile.avatar, profile.avatar_thumbnail = saved
            profile.save(update_fields=["avatar", "avatar_thumbnail", "updated_at"])
            audit.record(
                "user.avatar_updated",
                actor=actor,
                subject=user,
                details={
                    "width": avatar.width,
                    "height": avatar.height,
                    "source_format": avatar.source_format,
                    "bytes": len(avatar.image),
                },
            )
            _files_delete_later(previous)
    except BaseException:
        files_delete(saved)
        raise
    _profile_cache_set(user, profile)
    return profile


def avatar_delete(*, user: User, actor: User) -> Profile:
    """Remove the avatar and its thumbnail. Idempotent: with no avatar nothing changes and no event is written."""
    with transaction.atomic():
        profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
        previous = [profile.avatar, profile.avatar_thumbnail]
        if any(previous):
            profile.avatar = profile.avatar_thumbnail = ""
            profile.save(update_fields=["avatar", "avatar_thumbnail", "updated_at"])
            audit.record("user.avatar_removed", actor=actor, subject=user)
            _files_delete_later(previous)
    _profile_cache_set(user, profile)
    return profile


def avatar_erase(*, user: User) -> int:
    """Erasure: blank the avatar columns and delete both files after the commit (through the outbox, so a
    rolled-back erasure leaves the row and its files together). Idempotent; writes no audit event of its
    own (the erasure that calls it records the count). Returns the number of files to delete."""
    with transaction.atomic():
        profile = Profile.objects.select_for_update().filter(user=user).first()
        if profile is None:
            return 0
        previous = [name for name in (profile.avatar, profile.avatar_thumbnail) if name]
        if previous:
            profile.avatar = profile.avatar_thumbnail = ""
            profile.save(update_fields=["avatar", "avatar_thumbnail", "updated_at"])
            _files_delete_later(previous)
    return len(previous)


def _files_delete_later(names: list[str]) -> None:
    names = [name for name in names if name]
    if names:
        outbox.publish(FILES_DELETE_TOPIC, {"names": names})


def _profile_cache_set(user: User, profile: Profile) -> None:
    # The caller's user came with its profile (select_related); keep that copy current for the response.
    user.profile = profile
