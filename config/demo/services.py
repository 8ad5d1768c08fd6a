"""`manage.py demo_data`: fill a development database with demo users, their sessions, consents, data
requests and the audit events their histories would have written, so that the console and the benchmarks
have something to show.

Written in bulk (config/demo/bulk.py): one transaction, one prepared INSERT per table and batch, one
password hash shared by every demo user, and the audit events written in time order, each with the
row_hash that audit.services.record would have given it; the sealer then links them into the chain like
any other events. A few exports are then built by the real export job, so that "ready" exports have a file
that downloads. One audit event (`demo.data_generated`) records each run; it is how a later run knows the
database already holds demo data.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Permission
from django.db import transaction

from accounts.models import Profile, Session, User
from audit import services as audit
from audit.models import AuditEvent
from config.demo import bulk
from config.demo.generator import Generator
from gdpr import services as gdpr
from gdpr.models import ConsentRecord, DataRequest, DataRequestEvent

MARKER_ACTION = "demo.data_generated"


class DemoDataPresent(Exception):
    """The database already holds demo data and the caller did not ask to add more."""


@dataclass
class DemoReport:
    seed: int
    first_number: int
    users: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # A staff member (may approve erasures) and a verified, active member, for signing in.
    staff_email: str = ""
    member_email: str = ""


def demo_runs() -> list[dict[str, Any]]:
    """The details of every earlier run (its seed, first user number and user count), oldest first."""
    events = AuditEvent.objects.filter(action=MARKER_ACTION).order_by("id")
    return [dict(details) for details in events.values_list("details", flat=True)]


def demo_data_create(*, users: int, seed: int, append: bool = False) -> DemoReport:
    """Add `users` demo users and their histories. Refuses (DemoDataPresent) when an earlier run left demo
    data, unless `append`: new users then continue that run's numbering, so e-mail addresses, usernames and
    ids never collide. Writes everything in one transaction, then builds a few exports with the export
    job, then seals the audit chain."""
    started = time.perf_counter()
    runs = demo_runs()
    if runs and not append:
        raise DemoDataPresent(f"{sum(r['users'] for r in runs)} demo users from {len(runs)} earlier run(s)")
    first_number = max((r["first_number"] + r["users"] for r in runs), default=1)
    gen = Generator(seed=seed, first_number=first_number, total=users)
    report = DemoReport(seed=seed, first_number=first_number, users=users)
    with bulk.large_cache(), transaction.atomic():
        for start in range(0, users, bulk.BATCH):
            numbers = range(first_number + start, first_number + min(users, start + bulk.BATCH))
            _write_batch(gen, report, [gen.user(number) for number in numbers])
        events = bulk.Table(AuditEvent)
        for rows in gen.audit_rows():
            report.counts["audit events"] += events.insert(rows)
        audit.record(MARKER_ACTION, details={"seed": seed, "first_number": first_number, "users": users})
    for request_id in gen.to_build:
        built = gdpr.export_run(data_request_id=request_id)
        gen.requests["export pending"] -= 1
        gen.requests[f"export {built.status if built else 'pending'}"] += 1
    report.requests = +gen.requests
    with bulk.large_cache():
        report.counts["audit events sealed"] = audit.events_seal(batch_size=bulk.BATCH)
    report.seconds = time.perf_counter() - started
    return report


def _write_batch(gen: Generator, report: DemoReport, users: list[bulk.Row]) -> None:
    # Staff who may approve erasures: the run's first user and about half of the other staff.
    deciders = [
        u["id"]
        for u in users
        if u["is_staff"] and ((u is users[0] and not gen.deciders) or gen.rnd.random() < 0.5)
    ]
    gen.deciders += deciders
    sessions: list[bulk.Row] = []
    consents: list[bulk.Row] = []
    requests: list[bulk.Row] = []
    history: list[bulk.Row] = []
    for user in users:
        gen.history(user)
        sessions += gen.sessions(user)
        consents += gen.consents(user)
        for request, steps in gen.data_requests(user):
            requests.append(request)
            history += steps
    bulk.Table(User).insert(users)
    bulk.Table(Profile).insert([gen.profile(user) for user in users])
    approve = Permission.objects.get(content_type__app_label="gdpr", codename="approve_erasure")
    grants = [{"user_id": staff, "permission_id": approve.pk} for staff in deciders]
    bulk.Table(User.user_permissions.through).insert(grants)
    bulk.Table(Session).insert(sessions)
    before = ConsentRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    bulk.Table(ConsentRecord).insert(consents)
    # The new users exist only in this transaction, so the records after `before` of these users are
    # exactly the ones just inserted, in insertion order.
    ids = list(
        ConsentRecord.objects.filter(id__gt=before, user_id__in=[u["id"] for u in users])
        .order_by("id")
        .values_list("id", flat=True)
    )
    gen.consent_events(consents, ids, {u["id"]: u for u in users})
    bulk.Table(DataRequest).insert(requests)
    bulk.Table(DataRequestEvent).insert(history)

    if not report.staff_email:
        report.staff_email = users[0]["email"]
    if not report.member_email:
        members = [u for u in users if u["is_active"] and u["email_verified_at"] and not u["is_staff"]]
        report.member_email = next((u["email"] for u in members if not u.get("deleted_at")), "")
    report.counts["users"] += len(users)
    report.counts["staff"] += sum(u["is_staff"] for u in users)
    report.counts["unverified"] += sum(u["email_verified_at"] is None for u in users)
    report.counts["inactive"] += sum(not u["is_active"] for u in users)
    report.counts["soft-deleted"] += sum(bool(u.get("deleted_at")) for u in users)
    report.counts["sessions"] += len(sessions)
    report.counts["consent records"] += len(consents)
    report.counts["data requests"] += len(requests)
