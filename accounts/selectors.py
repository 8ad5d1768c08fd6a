"""All reads of the accounts app."""

from __future__ import annotations

import functools
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.expressions import Col
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from psycopg.pq import Format

from accounts import errors, ratelimit, search, tokens
from accounts.models import Profile, Session, User
from audit import selectors as audit_selectors


def login_taken(
    *, email: str | None, username: str | None, exclude: Any = None
) -> errors.AccountsError | None:
    """EmailTaken or UsernameTaken if a live user other than `exclude` holds the address or username."""
    others = User.objects.exclude(pk=exclude) if exclude else User.objects.all()
    if email and others.by_login(email).exists():
        return errors.EmailTaken()
    if username and others.by_login(username).exists():
        return errors.UsernameTaken()
    return None


def session_for_access(*, session_id: uuid.UUID, user_id: uuid.UUID) -> Session | None:
    """The live session of a live, active user, with the user and profile, in one query."""
    session = session_with_user(session_id=session_id)
    if session is None or session.user_id != user_id or not session_is_usable(session, now=timezone.now()):
        return None
    return session


def session_is_usable(session: Session, *, now: datetime) -> bool:
    """Not revoked, not past its absolute expiry, and its user live and active."""
    user = session.user
    return session.revoked_at is None and session.expires_at > now and user.is_live and user.is_active


def session_with_user(*, session_id: uuid.UUID) -> Session | None:
    """A session by id with its user and the user's profile attached, like
    `Session.objects.select_related("user", "user__profile")`, in one query.

    Every authenticated request runs this. Building that queryset costs Django ~0.6-0.8 ms of CPU per call
    (3 models, ~35 columns), ten times the query itself and more than a bare django-ninja request in total
    (see docs/deployment.md, "Performance"). So the SQL and the column converters are built once per
    process and database alias from the models' metadata, and rows become model instances with
    Model.from_db, as the ORM itself does. Parity with the ORM is tested in tests/perf/.

    On PostgreSQL the row comes in the binary format: psycopg's C loaders then read the uuid, timestamp
    and boolean columns, where the text format went through Django's timestamptz loader, written in
    Python (~40-70 us of the ~1.3 ms a GET /me costs a worker). The two column types whose binary form
    Django does not expect are sent as the text the ORM gets: inet through host() (an address as
    GenericIPAddressField stores it, without a mask) and jsonb cast to text, which the field's converter
    parses as before."""
    alias = router.db_for_read(Session)
    connection = connections[alias]
    sql, parts = _session_with_user_sql(alias)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.format = _PG_BINARY
        cursor.execute(sql, [Session._meta.pk.get_db_prep_value(session_id, connection)])  # type: ignore[union-attr]
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model | None] = []
    start = 0
    for model, attnames, columns, pk_index in parts:
        values = list(row[start : start + len(attnames)])
        start += len(attnames)
        for i, col, converters in columns:
            for converter in converters:
                values[i] = converter(values[i], col, connection)
        # The profile is a LEFT JOIN: no row gives NULLs, which select_related also caches as "no profile".
        instances.append(_from_db(model, alias, attnames, values) if values[pk_index] is not None else None)
    session, user, profile = cast(tuple[Session, User, Profile | None], tuple(instances))
    # What select_related's populators do: fill the relation caches on both sides.
    cast(Any, Session._meta.get_field("user")).set_cached_value(session, user)
    cast(Any, User._meta.get_field("profile")).set_cached_value(user, profile)
    if profile is not None:
        cast(Any, Profile._meta.get_field("user")).set_cached_value(profile, user)
    return session


_PG_BINARY = Format.BINARY
_Part = tuple[type[Model], list[str], list[tuple[int, Col, list[Any]]], int]


def _from_db(model: type[Model], alias: str, attnames: list[str], values: list[Any]) -> Model:
    """`model.from_db(alias, attnames, values)` for a full row, without Model.__init__'s per-field
    descriptor calls and its pre_init/post_init signals (these models have no receivers; the parity test
    in tests/perf compares every attribute with the ORM's instances)."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(attnames, values, strict=True))
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = alias
    return instance


def _select_as_text(connection: Any, field: Any, column: str) -> str:
    """The column as the ORM reads it, for a binary-format result on PostgreSQL (session_with_user)."""
    if connection.vendor != "postgresql":
        return column
    kind = field.get_internal_type()
    if kind == "GenericIPAddressField":
        return f"host({column})"
    if kind == "JSONField":
        return f"{column}::text"
    return column


@functools.cache
def _session_with_user_sql(alias: str) -> tuple[str, list[_Part]]:
    connection = connections[alias]
    qn = connection.ops.quote_name
    columns: list[str] = []
    parts: list[_Part] = []
    for model, table in ((Session, "s"), (User, "u"), (Profile, "p")):
        # In concrete_fields order: Model.from_db passes a full row to the constructor positionally.
        fields = list(model._meta.concrete_fields)
        columns += [_select_as_text(connection, f, f"{table}.{qn(f.column)}") for f in fields]
        cols = [f.get_col(table) for f in fields]
        parts.append(
            (
                model,
                [f.attname for f in fields],
                [
                    (i, col, converters)
                    for i, col in enumerate(cols)
                    if (
                        converters := connection.ops.get_db_converters(col)
                        + col.get_db_converters(connection)
                    )
                ],
                next(i for i, f in enumerate(fields) if f.primary_key),
            )
        )
    user_fk = Session._meta.get_field("user").column  # type: ignore[union-attr]
    profile_fk = Profile._meta.pk.column  # type: ignore[union-attr]
    user_pk = User._meta.pk.column  # type: ignore[union-attr]
    session_pk = Session._meta.pk.column  # type: ignore[union-attr]
    # Identifiers only, from the models' metadata and quoted; the one value is a query parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(Session._meta.db_table)} s "  # noqa: S608
        f"INNER JOIN {qn(User._meta.db_table)} u ON u.{qn(user_pk)} = s.{qn(user_fk)} "
        f"LEFT OUTER JOIN {qn(Profile._meta.db_table)} p ON p.{qn(profile_fk)} = u.{qn(user_pk)} "
        f"WHERE s.{qn(session_pk)} = %s"
    )
    return sql, parts


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
    """Claims of an access or refresh token that would be accepted now: its session is live (else
    SessionRevoked) and, for a refresh token, it is the session's current one. A spent (rotated) refresh
    token is TokenInvalid, what a refresh would refuse; unlike a refresh, checking one revokes nothing
    (reuse detection is the refresh's job, and a read must not end sessions)."""
    claims = tokens.any_decode(raw)
    session = session_for_access(session_id=claims.session_id, user_id=claims.user_id)
    if session is None:
        raise errors.SessionRevoked()
    if claims.token_type == "refresh" and not hmac.compare_digest(
        session.refresh_hash, tokens.token_hash(raw)
    ):
        raise errors.TokenInvalid(gettext("This refresh token has been used already."))
    return claims


def media_url(*, name: str) -> str | None:
    """The public URL of a stored media file (relative MEDIA_URL path on the file system, a full URL on S3)."""
    return default_storage.url(name) if name else None


# The user search of the staff console and the admin API is accounts.search.user_search.
user_search = search.user_search


@dataclass(frozen=True)
class LockoutState:
    """The login lockout of one account: locked until when (None: not locked), and the failed passwords
    counted toward the next lock."""

    locked_until: datetime | None
    failures: int

    @property
    def is_clear(self) -> bool:
        return self.locked_until is None and self.failures == 0


def lockout_state(*, user: User) -> LockoutState:
    until, failures = ratelimit.lockout_state(str(user.pk))
    locked_until = datetime.fromtimestamp(until, tz=UTC) if until is not None else None
    return LockoutState(locked_until=locked_until, failures=failures)


def user_emails(*, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """id → e-mail address of these users (deleted ones too), in one query, to show staff and users by
    address. Ids of no user (pseudonyms of erased users) and erased users (blank address) are left out."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = User.objects.filter(pk__in=wanted).exclude(email="").values_list("pk", "email")
    return dict(rows)


def user_locale(user_id: Any) -> str:
    """The locale tag the user chose in their profile ("" when none, or no such user): the language of the
    mails owed to them (core.mail asks through the resolver accounts registers at start-up)."""
    tag = Profile.objects.filter(user_id=user_id).values_list("locale", flat=True).first()
    return tag or ""


def user_ids_by_email(*, email: str) -> list[uuid.UUID]:
    """Every user, live or deleted, whose address is `email` (ignoring case): an address freed by a
    deletion may belong to a live user and to deleted ones. Erased users' addresses are gone."""
    value = email.strip().lower()
    if not value:
        return []
    return list(
        User.objects.alias(email_lower=Lower("email")).filter(email_lower=value).values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class LockedAccount:
    user: User
    locked_until: datetime


def users_locked(*, limit: int = 50) -> list[LockedAccount]:
    """Accounts whose login is locked right now, the longest lock first. The locks live in the cache under a
    digest of the account, which cannot be listed: the `auth.locked` audit events of the last lock period
    name the candidates, and the cache says whether each lock still holds (a successful login or a password
    reset lifts it early; a cache outage lifts them all). Locks of unknown logins name no user and are not
    listed."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    candidates = (
        audit_selectors.events_search(action="auth.locked", since=since)
        .exclude(subject_id=None)
        .values_list("subject_id", flat=True)
    )
    checked: set[uuid.UUID] = set()
    until: dict[uuid.UUID, datetime] = {}
    for subject_id in candidates[: limit * 4]:
        if subject_id is None or subject_id in checked:
            continue
        checked.add(subject_id)
        retry_after = ratelimit.lockout_retry_after(str(subject_id))
        if retry_after is not None:
            until[subject_id] = now + timedelta(seconds=retry_after)
            if len(until) == limit:
                break
    users = User.objects.filter(pk__in=until).order_by()
    found = [LockedAccount(user=user, locked_until=until[user.pk]) for user in users]
    return sorted(found, key=lambda locked: (-locked.locked_until.timestamp(), locked.user.email))
