"""How costs grow with the data: one table per measurement and size, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/scale.py [--sessions 10000 1000000] [--events 100000 1000000] [--skip-export]
        [--skip-search]

- GET /me and POST /auth/token/refresh (Django test client, one client, in process): p50/p95 latency and
  requests per second with 10^4 and 10^6 rows in the session table.
- The audit seal job (audit.services.events_seal, as the periodic task runs it) and `manage.py audit_verify`'s
  check (chain_verify): events per second at 10^5 and 10^6 events (10^7 is a flag away: --events 1000000
  10000000, about 35 minutes of seeding, sealing and verifying on a 2-core machine).
- The export (bench/export.py, its own database) at 10^5 and 10^6 rows, and the console user search
  (bench/console_search.py, its own database) at 10^6 users, run as subprocesses.

Sessions and events are seeded with SQL (generate_series) and COPY into the database DATABASE_TEST_NAME
(default bench_scale), created and migrated when missing and kept between runs. Every table line carries
/proc/loadavg: the figures are only comparable at similar load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ.setdefault("DATABASE_TEST_NAME", "bench_scale")
# One client refreshes hundreds of times a minute: the per-IP limits would answer 429.
os.environ.setdefault("RATE_LIMIT_ENABLED", "false")

import django  # noqa: E402

django.setup()
logging.disable(logging.INFO)  # the access log line of every request

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # a fixed table name
        return int(cursor.fetchone()[0])


# --- sessions: GET /me and refresh --------------------------------------------------------------------------

SESSION_USERS = 1000

USERS_SQL = """
INSERT INTO accounts_user (id, password, is_superuser, email, username, first_name, last_name, is_active,
                           is_staff, date_joined, email_verified_at, deleted_at, mfa_methods)
SELECT gen_random_uuid(), '!', false, 'scale' || i || '@example.com', NULL, 'Scale', 'User' || i, true, false,
       now(), now(), NULL, '[]'::jsonb
FROM generate_series(1, %s::bigint) AS i
"""

PROFILES_SQL = """
INSERT INTO accounts_profile (user_id, phone, birth_date, website, bio, locale, avatar, avatar_thumbnail, updated_at)
SELECT id, '', NULL, '', '', '', '', '', now() FROM accounts_user
WHERE email LIKE 'scale%%@example.com' AND id NOT IN (SELECT user_id FROM accounts_profile)
"""

SESSIONS_SQL = """
INSERT INTO accounts_session (id, user_id, created_at, last_seen_at, ip, user_agent, via, amr, expires_at,
                              refresh_hash, previous_refresh_hash, rotated_at, revoked_at, revoke_reason)
SELECT gen_random_uuid(), u.ids[1 + mod(i, array_length(u.ids, 1))], now() - make_interval(secs => i),
       now() - make_interval(secs => i), '203.0.113.7', 'Mozilla/5.0 scale', 'password', '["pwd"]'::jsonb,
       now() + interval '30 days' - make_interval(secs => i), md5(i::text) || md5((i + 1)::text), '', NULL,
       CASE WHEN mod(i, 3) = 0 THEN now() ELSE NULL END, CASE WHEN mod(i, 3) = 0 THEN 'logout' ELSE '' END
FROM generate_series(%s::bigint, %s::bigint) AS i,
     (SELECT array_agg(id) AS ids FROM accounts_user WHERE email LIKE 'scale%%@example.com') AS u
"""


def sessions_fill(target: int) -> None:
    """Bring the session table to `target` rows (a kept database may hold more from a larger run)."""
    have = count("accounts_session")
    with connection.cursor() as cursor:
        if count("accounts_user") < SESSION_USERS:
            cursor.execute(USERS_SQL, [SESSION_USERS])
            cursor.execute(PROFILES_SQL)
        if have > target:
            cursor.execute("TRUNCATE accounts_session CASCADE")
            have = 0
        if have < target:
            started = time.perf_counter()
            cursor.execute(SESSIONS_SQL, [have + 1, target])
            cursor.execute("VACUUM ANALYZE accounts_session")
            print(f"  {target - have} sessions added in {time.perf_counter() - started:.0f} s", flush=True)


def sessions_bench(sizes: list[int], requests: int) -> list[str]:
    from accounts import services
    from accounts.models import User

    rows = []
    client = Client()
    for size in sizes:
        sessions_fill(size)
        user = User.objects.filter(email="scale1@example.com").get()
        _, pair = services.session_open(user=user, via="password")
        _, spare = services.session_open(user=user, via="password")
        me = []
        for i in range(requests + 20):
            started = time.perf_counter()
            response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
            if i >= 20:  # warm-up first
                me.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
        refresh, token = [], spare.refresh
        for i in range(requests + 20):
            started = time.perf_counter()
            response = client.post(
                "/api/v1/auth/token/refresh", {"refresh": token}, content_type="application/json"
            )
            if i >= 20:
                refresh.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
            token = response.json()["refresh"]
        sessions = count("accounts_session")
        for name, ts in (("GET /me", me), ("refresh", refresh)):
            rows.append(
                f"{name:<10} {sessions:>10} {statistics.median(ts):>8.2f} {pct(ts, 95):>8.2f} "
                f"{1000 / statistics.mean(ts):>8.0f}  {load()}"
            )
            print(rows[-1], flush=True)
    return rows


# --- audit: seal and verify ---------------------------------------------------------------------------------


def audit_columns() -> list[str]:
    """The columns record() writes (an unsealed, never redacted event), from the model."""
    from audit.models import AuditEvent

    return [f.name for f in AuditEvent._meta.concrete_fields if not f.primary_key and f.name != "redacted_at"]


def events_fill(total: int) -> float:
    """Empty the log and COPY `total` unsealed events with valid row HMACs (what record() writes)."""
    import uuid

    from audit.models import AuditEvent, ChainHead
    from audit.services.events import row_hash

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {AuditEvent._meta.db_table} RESTART IDENTITY")
        ChainHead.objects.all().delete()
        actors = [uuid.uuid4() for _ in range(1000)]
        start = timezone.now() - timedelta(days=400)
        names = audit_columns()
        columns = ", ".join(names)
        with cursor.cursor.copy(f"COPY {AuditEvent._meta.db_table} ({columns}) FROM STDIN") as copy:
            for i in range(total):
                actor = actors[i % 1000]
                event = AuditEvent(
                    created_at=start + timedelta(milliseconds=i),
                    actor_type="user",
                    actor_id=actor,
                    subject_id=actor,
                    action="auth.login",
                    ip="203.0.113.7",
                    user_agent="Mozilla/5.0 scale",
                    request_id=f"{i:032x}",
                    details={"session_id": str(uuid.UUID(int=i)), "via": "password"},
                )
                event.row_hash = row_hash(event)
                copy.write_row(
                    [
                        *(getattr(event, c) for c in names[:8]),
                        json.dumps(event.details),
                        event.row_hash,
                        *("", "", ""),
                    ]
                )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {AuditEvent._meta.db_table}")
    return time.perf_counter() - started


def audit_bench(sizes: list[int]) -> list[str]:
    from audit.services import chain_verify, events_seal

    rows = []
    for size in sizes:
        seeded = events_fill(size)
        print(f"  {size} events seeded in {seeded:.0f} s", flush=True)
        started = time.perf_counter()
        sealed = events_seal(lag_seconds=0)
        seal = time.perf_counter() - started
        assert sealed == size, sealed
        rows.append(f"{'seal':<10} {size:>10} {seal:>8.1f} {size / seal:>10,.0f}  {load()}")
        print(rows[-1], flush=True)
        started = time.perf_counter()
        report = chain_verify()
        verify = time.perf_counter() - started
        assert report.ok and report.sealed == size, report
        rows.append(f"{'verify':<10} {size:>10} {verify:>8.1f} {size / verify:>10,.0f}  {load()}")
        print(rows[-1], flush=True)
    return rows


# --- the other benches, as subprocesses ---------------------------------------------------------------------


def subprocess_bench(script: str, args: list[str], database: str) -> list[str]:
    """Run another bench against a database of its own: export.py migrates and empties the database named in
    DATABASE_URL; console_search.py connects to the server and creates DATABASE_TEST_NAME itself."""
    server = os.environ["DATABASE_URL"]
    env = {**os.environ, "DATABASE_TEST_NAME": database}
    if script == "export.py":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = f"{server.rsplit('/', 1)[0]}/{database}"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode not in (0, 1):
        print(out.stdout, out.stderr)
    return [line for line in out.stdout.splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, nargs="*", default=[10_000, 1_000_000])
    parser.add_argument("--events", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--search-db", default="bench_scale_search", help="console search bench database")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (see the docstring)")
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)

    print("sessions: GET /me and refresh (one client, in process)", flush=True)
    session_rows = sessions_bench(sorted(args.sessions), args.requests)
    print("audit: seal job and verification", flush=True)
    audit_rows = audit_bench(sorted(args.events))
    export_rows = [] if args.skip_export else subprocess_bench("export.py", [], "bench_scale_export")
    search_rows = (
        [] if args.skip_search else subprocess_bench("console_search.py", ["--rounds", "5"], args.search_db)
    )

    print(f"\n{'request':<10} {'sessions':>10} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}  loadavg")
    print("\n".join(session_rows))
    print(f"\n{'job':<10} {'events':>10} {'seconds':>8} {'events/s':>10}  loadavg")
    print("\n".join(audit_rows))
    if export_rows:
        print("\nexport (bench/export.py)\n" + "\n".join(export_rows))
    if search_rows:
        print("\nconsole search (bench/console_search.py)\n" + "\n".join(search_rows[-22:]))


if __name__ == "__main__":
    main()
