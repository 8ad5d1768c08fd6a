"""All reads of the accounts app."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from accounts import errors, tokens
from accounts.models import Session, User


def session_for_access(*, session_id: uuid.UUID, user_id: uuid.UUID) -> Session | None:
    """The live session of a live, active user, with the user and profile, in one query."""
    return (
        Session.objects.select_related("user", "user__profile")
        .filter(
            pk=session_id,
            user_id=user_id,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            user__deleted_at__isnull=True,
            user__is_active=True,
        )
        .first()
    )


def session_is_recent(*, session: Session) -> bool:
    """Whether the session was opened by a login within REAUTH_WINDOW_SECONDS (refreshes do not count):
    the re-auth rule of sensitive changes for users who have no password to type."""
    return timezone.now() - session.created_at <= timedelta(seconds=settings.REAUTH_WINDOW_SECONDS)


def session_list(*, user: User, include_ended: bool = False) -> QuerySet[Session]:
    qs = Session.objects.filter(user=user)
    if not include_ended:
        qs = qs.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
    return qs.order_by("-created_at", "id")


def token_claims_live(*, raw: str) -> tokens.Claims:
    """Claims of an access or refresh token whose session is still live; TokenInvalid/SessionRevoked if not."""
    claims = tokens.any_decode(raw)
    if session_for_access(session_id=claims.session_id, user_id=claims.user_id) is None:
        raise errors.SessionRevoked()
    return claims


def media_url(*, name: str) -> str | None:
    """The public URL of a stored media file (relative MEDIA_URL path on the file system, a full URL on S3)."""
    return default_storage.url(name) if name else None
