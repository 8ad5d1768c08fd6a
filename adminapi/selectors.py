"""All reads of the admin API app."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from adminapi import errors, keys
from adminapi.models import ApiKey, KeyStatus


def api_key_for_secret(*, raw: str) -> ApiKey:
    """The working key (with its owner) that `raw` is, in one indexed query; ApiKeyInvalid, ApiKeyExpired
    or ApiKeyRevoked if it is none. Nothing of `raw` goes into an error or a log."""
    if not keys.KEY_PATTERN.fullmatch(raw):
        raise errors.ApiKeyInvalid()
    api_key = ApiKey.objects.select_related("owner").filter(key_hash=keys.key_hash(raw)).first()
    if api_key is None:
        raise errors.ApiKeyInvalid()
    status = api_key.status_at(timezone.now())
    if status == KeyStatus.EXPIRED:
        raise errors.ApiKeyExpired()
    if status == KeyStatus.REVOKED:
        raise errors.ApiKeyRevoked()
    if status == KeyStatus.SUSPENDED:
        raise errors.ApiKeyRevoked(gettext("The API key's owner is no longer an active superuser."))
    return api_key


def api_keys_list() -> QuerySet[ApiKey]:
    """Every key, newest first, with its owner."""
    return ApiKey.objects.select_related("owner").order_by("-created_at", "id")


def api_key_find(*, reference: str) -> ApiKey | None:
    """A key by its id or its prefix (`cus_…`), for the command line."""
    text = reference.strip()
    try:
        return api_keys_list().filter(pk=uuid.UUID(text)).first()
    except ValueError:
        return api_keys_list().filter(prefix=text).first()
