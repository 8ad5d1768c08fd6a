"""The exporter registry: every class listed in settings.GDPR_EXPORTERS contributes files to a user's export.

An exporter yields `Entry(name, write)` items; `write(out)` streams the file's bytes into `out` (a file-like
object inside the ZIP) and returns its row count. Iterate querysets with `.iterator(chunk_size=ctx.chunk_size)`
and call `ctx.tick(n)` after each chunk so that memory stays bounded, the job's lease is renewed and progress
moves. See docs/gdpr.md for an example exporter of another app.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import NotSupportedError
from django.db.models import Case, CharField, F, Func, TextField, Value, When
from django.db.models.functions import Cast
from django.db.models.sql.constants import MULTI
from django.utils.module_loading import import_string

from accounts.mfa import selectors as mfa_selectors
from accounts.models import Profile, Session, User
from audit import selectors as audit_selectors
from audit.models import AuditEvent
from gdpr.models import ConsentRecord


@dataclass
class ExportContext:
    user: User
    chunk_size: int
    tick: Callable[[int], None]


@dataclass
class Entry:
    name: str
    write: Callable[[IO[bytes]], int]


class Exporter:
    """Base class: override `entries`; `estimate` (rows) only steers the progress figure."""

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        raise NotImplementedError

    def estimate(self, user: User) -> int:
        return 1


def exporters_load() -> list[Exporter]:
    return [import_string(path)() for path in settings.GDPR_EXPORTERS]


# --- writers --------------------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True).encode()


def write_json(out: IO[bytes], value: Any, *, rows: int = 1) -> int:
    out.write(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True).encode())
    out.write(b"\n")
    return rows


def write_jsonl(out: IO[bytes], rows: Iterable[dict[str, Any]], ctx: ExportContext) -> int:
    count = 0
    buffer: list[bytes] = []
    for row in rows:
        buffer.append(_dumps(row))
        count += 1
        if len(buffer) >= ctx.chunk_size:
            out.write(b"\n".join(buffer) + b"\n")
            buffer.clear()
            ctx.tick(ctx.chunk_size)
    if buffer:
        out.write(b"\n".join(buffer) + b"\n")
        ctx.tick(len(buffer))
    return count


def write_csv(
    out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]], ctx: ExportContext
) -> int:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    count = pending = 0
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
        count += 1
        pending += 1
        if pending >= ctx.chunk_size:
            out.write(text.getvalue().encode())
            text.seek(0)
            text.truncate()
            ctx.tick(pending)
            pending = 0
    out.write(text.getvalue().encode())
    if pending:
        ctx.tick(pending)
    return count


# --- bulk reads -----------------------------------------------------------------------------------------

_encode_str = json.encoder.encode_basestring  # the C encoder json.dumps(..., ensure_ascii=False) uses for str
_decode = json.JSONDecoder().raw_decode  # the C scanner, without json.loads' whitespace checks
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode_sorted_py = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
# json.dumps(value, ensure_ascii=False, sort_keys=True), in pieces to join, for a value decoded from JSON (no
# cycles, no custom types): the C encoder json.dumps builds on every call, built once.
_sorted_pieces: Callable[[Any, int], Sequence[str]] = (
    _c_encoder(None, None, _encode_str, None, ": ", ", ", True, False, True)
    if _c_encoder is not None
    else lambda value, _level: [_encode_sorted_py(value)]
)


class HostText(Func):
    """An IP address column as text without a netmask (PostgreSQL's inet cast to text would add "/32")."""

    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"host({column})", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        return compiler.compile(self.source_expressions[0])  # SQLite stores the text


class JsonTimestamp(Func):
    """A timestamp column as the text DjangoJSONEncoder writes for it (UTC, ISO 8601, milliseconds when
    the time has a fraction of a second, `Z`), formatted by the database: neither driver then builds a
    datetime per row (the timestamptz loader Django registers with psycopg is Python code)."""

    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.source_expressions[0])
        utc = f"({column} AT TIME ZONE 'UTC')"
        sql = (
            f"CASE WHEN date_trunc('second', {column}) = {column} "
            f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
            f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END"""
        )
        return sql, [*params, *params, *params, *params]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # Stored as the UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        column, params = compiler.compile(self.source_expressions[0])
        sql = f"substr({column}, 1, 10) || 'T' || substr({column}, 12, CASE WHEN length({column}) > 19 THEN 12 ELSE 8 END) || 'Z'"
        return sql, [*params, *params, *params]

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        raise NotSupportedError(f"JsonTimestamp is not implemented on {connection.vendor}")


def raw_chunks(queryset: Any, chunk_size: int, *, expect: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a `values_list` queryset as the database driver returns them, without the ORM's per-row
    conversions, a list of up to `chunk_size` tuples at a time: through a server-side cursor on PostgreSQL and
    `fetchmany` on SQLite, so memory stays bounded whatever the number of rows. `expect` names the columns in
    the order the caller unpacks them (the SQL lists plain fields before annotations)."""
    query = queryset.query
    names = (*query.extra_select, *query.values_select, *query.annotation_select)
    if names != tuple(expect):
        raise ValueError(f"columns come as {names}, not {tuple(expect)}")
    compiler = query.get_compiler(using=queryset.db)
    yield from compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size)


def merge_chunks_by_first(*streams: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
    """Merge streams of row chunks, each ordered by its unique first column, into one ordered stream of
    chunks: the rows of every stream up to the smallest chunk end are merged with one C-level sort, and once a
    single stream is left its chunks pass through whole, so no Python code runs per row."""
    heads: list[tuple[list[tuple[Any, ...]], Iterator[list[tuple[Any, ...]]]]] = []
    for stream in streams:
        first = next(stream, [])
        if first:
            heads.append((first, stream))
    while heads:
        if len(heads) == 1:
            yield heads[0][0]
            yield from heads[0][1]
            return
        # Everything up to the smallest chunk end is complete in every stream.
        limit = min(chunk[-1][0] for chunk, _ in heads)
        merged: list[tuple[Any, ...]] = []
        rest = []
        for chunk, stream in heads:
            cut = bisect.bisect_right(chunk, limit, key=_first)
            merged.extend(chunk[:cut])
            chunk = chunk[cut:] or next(stream, [])
            if chunk:
                rest.append((chunk, stream))
        merged.sort(key=_first)
        yield merged
        heads = rest


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


# --- the built-in exporters -----------------------------------------------------------------------------


class ProfileExporter(Exporter):
    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        user = ctx.user
        profile = Profile.objects.filter(user=user).first()
        data = {
            "id": str(user.pk),
            "email": user.email,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "email_verified_at": user.email_verified_at,
            "deleted_at": user.deleted_at,
            "profile": None
            if profile is None
            else {
                "phone": profile.phone,
                "birth_date": profile.birth_date,
                "website": profile.website,
                "bio": profile.bio,
                "locale": profile.locale,
                "avatar": posixpath.basename(profile.avatar) if profile.avatar else None,
                "updated_at": profile.updated_at,
            },
        }
        yield Entry("profile.json", lambda out: write_json(out, data))


class SessionsExporter(Exporter):
    header = (
        "id",
        "created_at",
        "last_seen_at",
        "ip",
        "user_agent",
        "via",
        "expires_at",
        "revoked_at",
        "revoke_reason",
    )

    def estimate(self, user: User) -> int:
        return Session.objects.filter(user=user).count()

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        rows = (
            Session.objects.filter(user=ctx.user)
            .order_by("created_at", "id")
            .values_list(*self.header)
            .iterator(chunk_size=ctx.chunk_size)
        )
        yield Entry("sessions.csv", lambda out: write_csv(out, self.header, rows, ctx))


class ConsentsExporter(Exporter):
    header = ("id", "purpose", "granted", "policy_version", "source", "ip", "created_at")

    def estimate(self, user: User) -> int:
        return ConsentRecord.objects.filter(user=user).count()

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        rows = (
            ConsentRecord.objects.filter(user=ctx.user)
            .order_by("id")
            .values_list(*self.header)
            .iterator(chunk_size=ctx.chunk_size)
        )
        yield Entry("consents.csv", lambda out: write_csv(out, self.header, rows, ctx))


class AuditEventsExporter(Exporter):
    """Events about the user or done by them. Another person's id (a staff actor) is not theirs to get, nor
    the IP address and user agent a staff member acted from.

    Two index-ordered streams (about them; done by them about others) merged by id: one OR query would make the
    database collect and sort every matching row id first, so memory would grow with the user's history.

    This is the export's bulk (a long-lived account has millions of events), so rows skip the ORM's per-row
    work: the database decides `actor` and the origin's visibility (`audit.selectors.event_origin_hidden_q`),
    rows arrive as the driver's tuples a chunk at a time (`raw_chunks`), and each line is assembled from
    C-level JSON encoders into exactly what `json.dumps(event, cls=DjangoJSONEncoder, ensure_ascii=False,
    sort_keys=True)` would write for the event dict."""

    fields = ("id", "action", "actor_type", "request_id")
    annotations = ("export_details", "export_created_at", "export_actor", "export_ip", "export_user_agent")
    line = (
        '{"action": %s, "actor": %s, "actor_type": %s, "created_at": "%s", "details": %s, "id": %d, '
        '"ip": %s, "request_id": %s, "user_agent": %s}'
    )

    def _streams(self, user: User) -> tuple[Any, Any]:
        about = AuditEvent.objects.filter(subject_id=user.pk)
        by = AuditEvent.objects.filter(actor_id=user.pk).exclude(subject_id=user.pk)
        return about, by

    def estimate(self, user: User) -> int:
        about, by = self._streams(user)
        return int(about.count() + by.count())

    def _rows(self, queryset: Any, viewer_id: Any) -> Any:
        hidden = audit_selectors.event_origin_hidden_q(viewer_id=viewer_id)
        return (
            queryset.annotate(
                # As text: what Django registers for jsonb and inet with psycopg are Python loaders.
                export_details=Cast("details", TextField()),
                export_created_at=JsonTimestamp("created_at"),
                export_actor=Case(
                    When(actor_id=viewer_id, then=Value("you")),
                    default=F("actor_type"),
                    output_field=CharField(),
                ),
                export_ip=Case(
                    When(hidden, then=Value(None)), default=HostText("ip"), output_field=TextField()
                ),
                export_user_agent=Case(
                    When(hidden, then=Value("")), default=F("user_agent"), output_field=CharField()
                ),
            )
            .order_by("id")
            .values_list(*self.fields, *self.annotations)
        )

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        streams = [self._rows(qs, ctx.user.pk) for qs in self._streams(ctx.user)]

        def write(out: IO[bytes]) -> int:
            line, enc, decode, pieces = self.line, _encode_str, _decode, _sorted_pieces
            count = 0
            chunks = [
                raw_chunks(qs, ctx.chunk_size, expect=(*self.fields, *self.annotations)) for qs in streams
            ]
            for chunk in merge_chunks_by_first(*chunks):
                text = "\n".join(
                    [
                        line
                        % (
                            enc(action),
                            enc(actor),
                            enc(actor_type),
                            created_at,
                            # details: a JSON column, which both drivers hand over as text
                            "".join(pieces(decode(details)[0], 0)),
                            pk,
                            "null" if ip is None else enc(ip),
                            enc(request_id),
                            enc(user_agent),
                        )
                        for pk, action, actor_type, request_id, details, created_at, actor, ip, user_agent in chunk
                    ]
                )
                out.write(text.encode() + b"\n")
                count += len(chunk)
                ctx.tick(len(chunk))
            return count

        yield Entry("audit_events.jsonl", write)


class SocialAccountsExporter(Exporter):
    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        accounts = [
            {
                "provider": a.provider,
                "uid": a.uid,
                "date_joined": a.date_joined,
                "last_login": a.last_login,
                "extra_data": a.extra_data,
            }
            for a in SocialAccount.objects.filter(user=ctx.user).order_by("id")
        ]
        yield Entry("social_accounts.json", lambda out: write_json(out, accounts, rows=len(accounts)))


class AuthenticatorsExporter(Exporter):
    """The user's second factors: type, name, dates, whether a key is a passkey, recovery codes left. Never a
    TOTP secret, a public key or a code hash (accounts' selector leaves them out)."""

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        rows = mfa_selectors.authenticators_export(user=ctx.user)
        yield Entry("authenticators.json", lambda out: write_json(out, rows, rows=len(rows)))


class AvatarExporter(Exporter):
    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        profile = Profile.objects.filter(user=ctx.user).first()
        path = profile.avatar if profile else ""
        if not path or not default_storage.exists(path):
            return
        extension = posixpath.splitext(path)[1].lower() or ".bin"

        def copy(out: IO[bytes]) -> int:
            with default_storage.open(path, "rb") as source:
                for chunk in iter(lambda: source.read(1 << 16), b""):
                    out.write(chunk)
            return 1

        yield Entry(f"avatar{extension}", copy)
