"""All writes of the admin API app: creating, revoking and touching API keys (their format: adminapi.keys)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from adminapi import errors, keys
from adminapi import scopes as registry
from adminapi.models import ApiKey, may_own_keys
from audit import services as audit

MAX_LIFETIME_DAYS = 365
NAME_MAX_LENGTH = 100
# last_used_at is written at most this often per key.
TOUCH_SECONDS = 60


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    # The whole key: hand it to whoever asked, once, and forget it; it is stored nowhere.
    secret: str


def _check_input(name: str, wanted: Iterable[str], expires_at: datetime) -> list[str]:
    fields: dict[str, list[str]] = {}
    if not name or len(name) > NAME_MAX_LENGTH:
        fields["name"] = [
            gettext("Give the key a name of 1 to %(max)d characters.") % {"max": NAME_MAX_LENGTH}
        ]
    wanted = list(wanted)
    unknown = sorted(set(wanted) - set(registry.SCOPES))
    if unknown:
        fields["scopes"] = [
            gettext("Unknown scope: %(unknown)s. Known: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(registry.SCOPES)}
        ]
    elif not wanted:
        fields["scopes"] = [gettext("Give the key at least one scope.")]
    now = timezone.now()
    if not now < expires_at <= now + timedelta(days=MAX_LIFETIME_DAYS):
        fields["expires_at"] = [
            gettext("A key expires in the future, within %(days)d days.") % {"days": MAX_LIFETIME_DAYS}
        ]
    if fields:
        raise errors.ValidationFailed(fields)
    return registry.scopes_normalise(wanted)


def api_key_create(
    *, owner: User, actor: User | None, name: str, scopes: Iterable[str], expires_at: datetime
) -> NewKey:
    """A new key owned by `owner`, an active superuser, who creates it in the console (actor = owner), or
    by an operator on the command line (actor None: a system action). Audited as `api_key.created` (never
    with the key). The returned NewKey holds the key itself: the only time it exists."""
    if (actor is not None and actor.pk != owner.pk) or not may_own_keys(owner):
        raise errors.KeyOwnerRequired()
    name = name.strip()
    granted = _check_input(name, scopes, expires_at)
    for _attempt in range(5):
        prefix, secret = keys.key_generate()
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    name=name,
                    owner=owner,
                    prefix=prefix,
                    key_hash=keys.key_hash(secret),
                    scopes=granted,
                    expires_at=expires_at,
                )
                audit.record(
                    "api_key.created",
                    actor=actor,
                    subject=owner,
                    details={
                        "api_key_id": str(api_key.pk),
                        "api_key_prefix": prefix,
                        "name": name,
                        "scopes": granted,
                        "expires_at": expires_at.isoformat(),
                    },
                )
            return NewKey(api_key=api_key, secret=secret)
        except IntegrityError:
            # A prefix already taken (40 random bits: rare); draw again.
            continue
    raise RuntimeError("Could not draw a free API key prefix.")


def api_key_revoke(*, api_key: ApiKey, actor: User | None) -> ApiKey:
    """Any active superuser (in the console) or an operator (command line, actor None) revokes a key; it
    stops working on the next request. Idempotent: revoking a revoked key changes nothing and is not
    audited again."""
    if actor is not None and not may_own_keys(actor):
        raise errors.KeyOwnerRequired()
    with transaction.atomic():
        revoked = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit.record(
                "api_key.revoked",
                actor=actor,
                subject=api_key.owner_id,
                details={"api_key_id": str(api_key.pk), "api_key_prefix": api_key.prefix},
            )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record the use of a key, at most every TOUCH_SECONDS (a bookkeeping write, not audited)."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= timedelta(seconds=TOUCH_SECONDS):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
