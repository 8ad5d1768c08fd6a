"""Managing webhook endpoints: create, change, delete, rotate the secret. Staff need MANAGE_PERMISSION;
`actor=None` is an operator at the command line. Every change is audited."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit import services as audit
from integrations import errors, events, signing, transport
from integrations.models import ALL_EVENTS, WebhookEndpoint

MANAGE_PERMISSION = "integrations.manage_webhooks"
MAX_GRACE_HOURS = 24 * 30


def permission_check(actor: User | None) -> None:
    if actor is not None and not (actor.is_active and actor.has_perm(MANAGE_PERMISSION)):
        raise errors.PermissionDenied()


def event_types_check(event_types: Iterable[str]) -> list[str]:
    """Known types, sorted and deduplicated; `*` alone stands for every type."""
    chosen = sorted({str(t).strip() for t in event_types if str(t).strip()})
    if not chosen:
        raise errors.InvalidEndpoint("event_types", gettext("Choose at least one event type."))
    unknown = [t for t in chosen if t != ALL_EVENTS and t not in events.EVENT_TYPES]
    if unknown:
        raise errors.InvalidEndpoint(
            "event_types", gettext("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}
        )
    return [ALL_EVENTS] if ALL_EVENTS in chosen else chosen


def url_check(url: str) -> str:
    url = url.strip()
    try:
        transport.url_resolve(url)
    except transport.UrlRefused as exc:
        raise errors.InvalidEndpoint("url", str(exc))
    return url


def _shown(url: str) -> str:
    """The URL as the audit log keeps it: without its query, which may carry a receiver's token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def endpoint_create(
    *,
    actor: User | None,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its signing secret, which is shown this once (only its encryption is kept)."""
    permission_check(actor)
    url = url_check(url)
    types = event_types_check(event_types)
    secret = signing.secret_generate()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            description=description.strip()[:200],
            event_types=types,
            enabled=enabled,
            secret_encrypted=signing.encrypt(secret),
        )
        audit.record(
            "webhook.endpoint_created",
            actor=actor,
            details={
                "endpoint_id": str(endpoint.pk),
                "url": _shown(url),
                "event_types": types,
                "enabled": enabled,
            },
        )
    return endpoint, secret


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User | None,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields (None leaves a field as is). No change, no audit event."""
    permission_check(actor)
    wanted: dict[str, Any] = {}
    if url is not None:
        wanted["url"] = url_check(url)
    if event_types is not None:
        wanted["event_types"] = event_types_check(event_types)
    if description is not None:
        wanted["description"] = description.strip()[:200]
    if enabled is not None:
        wanted["enabled"] = enabled
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        changed = {k: v for k, v in wanted.items() if getattr(locked, k) != v}
        if not changed:
            return locked
        for field, value in changed.items():
            setattr(locked, field, value)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*changed, "updated_at"])
        details: dict[str, Any] = {"endpoint_id": str(locked.pk), "fields": sorted(changed)}
        details.update({k: v for k, v in changed.items() if k in ("event_types", "enabled")})
        if "url" in changed:
            details["url"] = _shown(changed["url"])
        audit.record("webhook.endpoint_updated", actor=actor, details=details)
    return locked


def endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Deletes the endpoint with its deliveries (pending ones are not attempted any more)."""
    permission_check(actor)
    with transaction.atomic():
        audit.record(
            "webhook.endpoint_deleted",
            actor=actor,
            details={"endpoint_id": str(endpoint.pk), "url": _shown(endpoint.url)},
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def endpoint_secret_rotate(
    *, endpoint: WebhookEndpoint, actor: User | None, grace_hours: float | None = None
) -> str:
    """A new secret signs from now on; the current one keeps signing too (a second signature) for
    `grace_hours` (WEBHOOKS_SECRET_GRACE_HOURS by default; 0 drops it at once). Returns the new secret,
    shown this once. A secret still in its grace period from an earlier rotation is dropped."""
    permission_check(actor)
    grace = float(settings.WEBHOOKS_SECRET_GRACE_HOURS if grace_hours is None else grace_hours)
    if not 0 <= grace <= MAX_GRACE_HOURS:
        raise errors.InvalidEndpoint(
            "grace_hours", gettext("The grace period is 0 to %(hours)d hours.") % {"hours": MAX_GRACE_HOURS}
        )
    secret = signing.secret_generate()
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if grace > 0:
            # Re-encrypted, so it is readable under the current key even if it was written under a fallback.
            locked.previous_secret_encrypted = signing.encrypt(signing.decrypt(locked.secret_encrypted))
            locked.previous_secret_expires_at = now + timedelta(hours=grace)
        else:
            locked.previous_secret_encrypted = ""
            locked.previous_secret_expires_at = None
        locked.secret_encrypted = signing.encrypt(secret)
        locked.updated_at = now
        locked.save(
            update_fields=[
                "secret_encrypted",
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
        expires = locked.previous_secret_expires_at
        audit.record(
            "webhook.secret_rotated",
            actor=actor,
            details={
                "endpoint_id": str(locked.pk),
                "grace_hours": grace,
                "previous_valid_until": expires.isoformat() if expires else None,
            },
        )
    endpoint.refresh_from_db()
    return secret
