"""The hash chain over the events (sealing, verification) and retention, which must keep it verifiable."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, ChainHead
from audit.services.events import record, redaction_hash, row_hash


def chain_link(prev_hash: str, row_hash_: str, event_id: int) -> str:
    return hashlib.sha256(f"{prev_hash}{row_hash_}{event_id}".encode()).hexdigest()


def events_seal(*, lag_seconds: int | None = None, batch_size: int = 1000) -> int:
    """Link unsealed events into the chain in id order: prev_hash is the previous event's hash, hash is
    sha256(prev_hash + row_hash + id). Runs off the request path (periodic task, audit_verify). The chain
    head row is locked (SELECT … FOR UPDATE; SQLite's IMMEDIATE transactions serialise anyway), so two
    sealers never interleave, while record() never waits for it.

    Only events older than the lag are sealed, and sealing stops at the first younger one: a transaction
    still open may yet commit a lower id than an event already visible. Returns the number sealed."""
    lag = timedelta(seconds=settings.AUDIT_SEAL_LAG_SECONDS if lag_seconds is None else lag_seconds)
    total = 0
    while True:
        with transaction.atomic():
            ChainHead.objects.get_or_create(pk=1)
            head = ChainHead.objects.select_for_update().get(pk=1)
            cutoff = timezone.now() - lag
            candidates = (
                AuditEvent.objects.filter(id__gt=head.last_id)
                .order_by("id")
                .values_list("id", "row_hash", "created_at")[:batch_size]
            )
            batch: list[tuple[str, str, int]] = []  # (prev_hash, hash, id)
            for event_id, event_row_hash, created_at in candidates:
                if created_at > cutoff:
                    break
                link = chain_link(head.last_hash, event_row_hash, event_id)
                batch.append((head.last_hash, link, event_id))
                head.last_id, head.last_hash = event_id, link
            if not batch:
                return total
            # The sanctioned write of the link columns only (AuditEvent.save refuses): one prepared UPDATE
            # run per event, far cheaper than bulk_update's CASE over the whole batch (~8 ms an event).
            _links_write(batch)
            head.sealed_at = timezone.now()
            head.save(update_fields=["last_id", "last_hash", "sealed_at"])
            total += len(batch)
        if len(batch) < batch_size:
            return total


def _links_write(links: list[tuple[str, str, int]]) -> None:
    qn = connection.ops.quote_name
    table = qn(AuditEvent._meta.db_table)
    # Quoted names only; every value is a parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the batch (the links as arrays joined by id): a statement per event spent
            # most of the seal's time in per-statement overhead (docs/deployment.md, "Scaling").
            prev_hashes, hashes, ids = (list(column) for column in zip(*links, strict=True))
            cursor.execute(
                f"UPDATE {table} SET {qn('prev_hash')} = v.prev_hash, {qn('hash')} = v.hash "  # noqa: S608
                "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS v(prev_hash, hash, id) "
                f"WHERE {table}.{qn('id')} = v.id",
                [prev_hashes, hashes, ids],
            )
            return
        sql = f"UPDATE {table} SET {qn('prev_hash')} = %s, {qn('hash')} = %s WHERE {qn('id')} = %s"  # noqa: S608
        cursor.executemany(sql, links)


@dataclass
class ChainReport:
    checked: int = 0
    sealed: int = 0
    first_id: int | None = None
    last_sealed_id: int | None = None
    anchor: str = ""
    pending: int = 0
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _content_intact(event: AuditEvent) -> bool:
    if event.redacted_at is not None:
        return hmac.compare_digest(event.redaction_hash, redaction_hash(event))
    return hmac.compare_digest(event.row_hash, row_hash(event))


def chain_verify() -> ChainReport:
    """Check every remaining event: its content against its HMAC (row_hash, or redaction_hash for a
    pseudonymised row), and its links. Retention removes the oldest events, so the chain is anchored at the
    oldest remaining one (its prev_hash is taken as given); from there each prev_hash must be the previous
    event's hash. Unsealed events are fine only after the last sealed one (not sealed yet); the newest
    sealed event must be the chain head, or the tail was cut. Stops at the first broken link."""
    report = ChainReport()
    # Read before the events: a sealer running meanwhile only extends the chain past this head.
    head = ChainHead.objects.filter(pk=1).first()
    head_seen = False
    prev_hash: str | None = None
    prev_id: int | None = None
    first_unsealed: int | None = None

    def broken(event_id: int, reason: str) -> ChainReport:
        report.broken_id, report.reason = event_id, reason
        return report

    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        report.checked += 1
        if report.first_id is None:
            report.first_id = event.id
        if not _content_intact(event):
            return broken(event.id, "its content does not match its HMAC (the row was changed)")
        if not event.hash:
            first_unsealed = first_unsealed or event.id
            report.pending += 1
            continue
        if first_unsealed is not None:
            return broken(first_unsealed, f"it is not sealed but a later event (#{event.id}) is")
        if prev_hash is None:
            report.anchor = event.prev_hash
        elif not hmac.compare_digest(event.prev_hash, prev_hash):
            return broken(
                event.id,
                f"its prev_hash is not the hash of the event before it (#{prev_id}): "
                "an event between them was deleted or a link was changed",
            )
        if not hmac.compare_digest(event.hash, chain_link(event.prev_hash, event.row_hash, event.id)):
            return broken(event.id, "its hash does not match its prev_hash, row_hash and id")
        if head is not None and event.id == head.last_id:
            head_seen = hmac.compare_digest(event.hash, head.last_hash)
        prev_hash, prev_id = event.hash, event.id
        report.sealed += 1
        report.last_sealed_id = event.id
    if head is not None and head.last_id and not head_seen:
        return broken(
            head.last_id,
            f"the chain head is event #{head.last_id} but the newest sealed event is "
            f"#{report.last_sealed_id}: sealed events at the end were deleted or changed",
        )
    return report


def events_retention(*, dry_run: bool = False) -> int:
    """Delete audit events older than AUDIT_RETENTION_DAYS (0 keeps everything): the one deletion of events,
    a queryset delete (AuditEvent.delete() refuses). The chain stays verifiable because only its oldest part
    goes and chain_verify anchors it at the oldest remaining event: the deleted range ends at the first
    event younger than the cutoff (ids and clocks need not agree, and a gap in the middle would break the
    next link), holds only sealed events, and never takes the chain head's own event (without it a cut
    tail could not be told from retention). Audited as `retention.audit_purged`. Returns how many events
    were (or would be) deleted."""
    if settings.AUDIT_RETENTION_DAYS <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    # The head only moves forward, so a sealer running meanwhile cannot make this range wrong.
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or not head.last_id:
        return 0
    first_young = (
        AuditEvent.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    )
    anchor_id = head.last_id if first_young is None else min(first_young, head.last_id)
    old = AuditEvent.objects.filter(id__lt=anchor_id)
    if dry_run:
        return old.count()
    with transaction.atomic():
        count, _ = old.delete()
        if count:
            record(
                "retention.audit_purged",
                details={"count": count, "cutoff": cutoff.isoformat(), "anchor_id": anchor_id},
            )
    return count
