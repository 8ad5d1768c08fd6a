"""manage.py demo_data: realistic users and histories in bulk, an audit chain that verifies, refusals that keep
it off production databases and out of databases that already hold demo data."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile, Session, User
from audit.models import AuditEvent
from config.demo import bulk, generator, services
from gdpr.models import ConsentRecord, DataRequest, DataRequestEvent, ExportFile

USERS = 300


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _run(*args: str) -> str:
    out = StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


def _statuses(type_: str) -> set[str]:
    return set(DataRequest.objects.filter(type=type_).values_list("status", flat=True))


def test_demo_data_fills_the_database(api: Any) -> None:
    output = _run("--users", str(USERS), "--seed", "3", "--force")
    assert f"Added {USERS} demo users (numbers 1..{USERS}, --seed 3)" in output
    assert f"Every demo user's password: {generator.DEMO_PASSWORD}" in output

    users = User.objects.all()
    assert users.count() == Profile.objects.count() == USERS
    assert users.filter(is_staff=True).exists()
    assert users.filter(email_verified_at__isnull=True).exists()
    assert users.filter(deleted_at__isnull=False).exists()
    assert users.filter(is_active=False).exists()
    assert users.filter(username__isnull=True).exists() and users.filter(username__isnull=False).exists()
    first_names = set(users.values_list("first_name", flat=True))
    last_names = set(users.values_list("last_name", flat=True))
    assert any(len(name) == 2 for name in first_names)  # "Ed", "Al", …
    assert any(" " in name for name in first_names | last_names)  # "Mary Ann", "van der Berg", …
    assert {"de", "en"} <= set(Profile.objects.values_list("locale", flat=True))
    # Every address is unique, valid and lower-case; every username fits the API's pattern.
    emails = list(users.values_list("email", flat=True))
    assert len(set(emails)) == USERS and all(re.fullmatch(r"[a-z0-9._]+@[a-z.]+", e) for e in emails)
    assert all(
        re.fullmatch(r"[A-Za-z0-9_.-]{3,30}", u)
        for u in users.exclude(username=None).values_list("username", flat=True)
    )

    assert Session.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now()).exists()
    assert not Session.objects.filter(user__deleted_at__isnull=False, revoked_at__isnull=True).exists()
    assert ConsentRecord.objects.filter(granted=True).exists()
    assert {"pending", "running", "ready", "failed", "expired", "cancelled"} <= _statuses("export")
    assert {"awaiting_approval", "approved"} <= _statuses("erasure")
    approved = DataRequest.objects.filter(type="erasure", status="approved")
    assert all(r.scheduled_for > timezone.now() and r.decided_by.is_staff for r in approved)
    assert all(r.user.deleted_at for r in DataRequest.objects.filter(source="account_deleted"))

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.registered", "auth.login", "consent.granted", "gdpr.erasure_approved"} <= actions
    assert AuditEvent.objects.filter(action=services.MARKER_ACTION).count() == 1
    # The bulk events come in time order and are sealed at once.
    times = list(AuditEvent.objects.exclude(hash="").order_by("id").values_list("created_at", flat=True))
    assert len(times) > 2 * USERS and times == sorted(times)

    verified = StringIO()
    call_command("audit_verify", stdout=verified)
    assert "audit chain OK" in verified.getvalue()


def test_a_demo_user_logs_in_and_downloads_a_ready_export(api: Any) -> None:
    _run("--users", "60", "--seed", "11", "--force")
    ready = DataRequest.objects.filter(type="export", status="ready").select_related("user").first()
    assert ready is not None
    tokens = api.post_json("/auth/token", {"login": ready.user.email, "password": generator.DEMO_PASSWORD})
    assert tokens.status_code == 200, tokens.content
    got = api.call("get", f"/gdpr/requests/{ready.pk}", token=tokens.json()["access"]).json()
    path = got["download"]["url"].split("://", 1)[1].split("/", 1)[1]
    download = api.get(f"/{path}")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert b"".join(download.streaming_content)  # a download counts once it has been sent whole
    assert ExportFile.objects.get(request=ready).downloads_left == 2


def test_a_second_run_needs_append_and_continues_the_numbering(db: None) -> None:
    _run("--users", "20", "--seed", "5", "--force")
    before = (User.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CommandError, match=r"already holds demo data.*--append"):
        _run("--users", "20", "--seed", "5", "--force")
    assert (User.objects.count(), AuditEvent.objects.count()) == before
    # The same seed again: new numbers, so new ids, addresses and usernames.
    output = _run("--users", "20", "--seed", "5", "--force", "--append")
    assert "(numbers 21..40, --seed 5)" in output
    assert User.objects.count() == 40
    assert len(set(User.objects.values_list("email", flat=True))) == 40
    assert [r["first_number"] for r in services.demo_runs()] == [1, 21]
    call_command("audit_verify", stdout=StringIO())


def test_it_refuses_with_debug_off_unless_forced(settings: Any, db: None) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match=r"DEBUG is off.*--force"):
        _run("--users", "5")
    assert not User.objects.exists() and not AuditEvent.objects.exists()


def test_with_debug_on_no_force_is_needed(settings: Any, db: None) -> None:
    settings.DEBUG = True
    assert "Added 5 demo users" in _run("--users", "5", "--seed", "1")


@pytest.mark.parametrize("users", ["0", "-3", "10000001"])
def test_a_user_count_out_of_range_is_refused(users: str, db: None) -> None:
    with pytest.raises(CommandError, match="--users"):
        _run("--users", users, "--force")
    assert not User.objects.exists()


class _Rollback(Exception):
    pass


def _people_of_a_run(seed: int) -> list[tuple[Any, ...]]:
    """The users one run creates, in a savepoint rolled back afterwards (the database is empty again)."""
    people: list[tuple[Any, ...]] = []
    with contextlib.suppress(_Rollback), transaction.atomic():
        _run("--users", "30", "--seed", str(seed), "--force")
        fields = ("id", "email", "username", "first_name", "last_name", "is_staff", "is_active")
        people = list(User.objects.order_by("email").values_list(*fields))
        raise _Rollback
    assert not User.objects.exists()
    return people


def test_the_same_seed_gives_the_same_people(db: None) -> None:
    first = _people_of_a_run(8)
    assert len(first) == 30
    assert _people_of_a_run(8) == first
    assert _people_of_a_run(9) != first


def _comparable(value: Any) -> Any:
    """psycopg's Jsonb wrapper holds the value; an address passed as text is what PostgreSQL casts to inet."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return getattr(value, "obj", value)


def test_bulk_rows_are_what_the_orm_would_write(db: None) -> None:
    """Table's converters stand in for each field's get_db_prep_save: same values for the driver."""
    from django.db import connection

    gen = generator.Generator(seed=4, first_number=1, total=100)
    users = [gen.user(n) for n in range(1, 101)]
    gen.deciders = [users[0]["id"]]
    samples: dict[type[Any], list[dict[str, Any]]] = {User: users, Profile: [gen.profile(u) for u in users]}
    for user in users:
        gen.history(user)
        samples.setdefault(Session, []).extend(gen.sessions(user))
        samples.setdefault(ConsentRecord, []).extend(gen.consents(user))
        for request, steps in gen.data_requests(user):
            samples.setdefault(DataRequest, []).append(request)
            samples.setdefault(DataRequestEvent, []).extend(steps)
    samples[AuditEvent] = next(gen.audit_rows())
    for model, rows in samples.items():
        assert rows, model
        table = bulk.Table(model)
        for row, params in zip(rows, table.params(rows), strict=True):
            expected = [
                f.get_db_prep_save(row.get(f.attname, table.defaults[f.attname]), connection)
                for f in table.fields
            ]
            assert [_comparable(v) for v in params] == [_comparable(v) for v in expected], model
