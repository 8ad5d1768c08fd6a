"""The exporter registry: every class listed in settings.GDPR_EXPORTERS contributes files to a user's export.

An exporter yields `Entry(name, write)` items; `write(out)` streams the file's bytes into `out` (a file-like
object inside the ZIP) and returns its row count. Iterate querysets with `.iterator(chunk_size=ctx.chunk_size)`
and call `ctx.tick(n)` after each chunk so that memory stays bounded, the job's lease is renewed and progress
moves. See docs/gdpr.md for an example exporter of another app.
"""

from __future__ import annotations

import csv
import heapq
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
    database collect and sort every matching row id first, so memory would grow with the user's history."""

    fields = (
        "id",
        "created_at",
        "action",
        "actor_type",
        "actor_id",
        "ip",
        "user_agent",
        "request_id",
        "details",
    )

    def _streams(self, user: User) -> tuple[Any, Any]:
        about = AuditEvent.objects.filter(subject_id=user.pk)
        by = AuditEvent.objects.filter(actor_id=user.pk).exclude(subject_id=user.pk)
        return about, by

    def estimate(self, user: User) -> int:
        about, by = self._streams(user)
        return int(about.count() + by.count())

    def entries(self, ctx: ExportContext) -> Iterator[Entry]:
        own_id = ctx.user.pk

        def rows() -> Iterator[dict[str, Any]]:
            streams = [
                qs.order_by("id").values(*self.fields).iterator(chunk_size=ctx.chunk_size)
                for qs in self._streams(ctx.user)
            ]
            for event in heapq.merge(*streams, key=lambda e: e["id"]):
                if not audit_selectors.event_origin_visible(
                    actor_type=event["actor_type"], actor_id=event["actor_id"], viewer_id=own_id
                ):
                    event["ip"], event["user_agent"] = None, ""
                event["actor"] = "you" if event.pop("actor_id") == own_id else event["actor_type"]
                yield event

        yield Entry("audit_events.jsonl", lambda out: write_jsonl(out, rows(), ctx))


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
