"""Console user search at scale: fills PostgreSQL with N users (default 10^6, in SQL with generate_series)
and measures the search partial (GET /console/users/?q=… as htmx, with its total) through Django's test
client, signed in as staff. Prints p50/p95 per kind of query (e-mail fragments, usernames, names in either
order, names of one or two letters, ids, filters, deep pages, LIKE wildcards) and overall; target p95 < 50 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test DATABASE_TEST_NAME=bench_custodian \
        .venv/bin/python bench/console_search.py [--users 1000000] [--rounds 20]

The data lives in its own database (DATABASE_TEST_NAME, default bench_custodian), kept between runs; it is
filled only when it holds fewer users than asked for.
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ.setdefault("DATABASE_TEST_NAME", "bench_custodian")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

FIRST = [
    "ada",
    "grace",
    "alan",
    "edsger",
    "barbara",
    "donald",
    "margaret",
    "ken",
    "dennis",
    "linus",
    "guido",
    "bjarne",
    "james",
    "john",
    "frances",
    "radia",
    "shafi",
    "leslie",
    "tim",
    "vint",
]
LAST = [
    "lovelace",
    "hopper",
    "turing",
    "dijkstra",
    "liskov",
    "knuth",
    "hamilton",
    "thompson",
    "ritchie",
    "torvalds",
    "rossum",
    "stroustrup",
    "gosling",
    "mccarthy",
    "allen",
    "perlman",
    "goldwasser",
    "lamport",
    "berners",
    "cerf",
    "backus",
    "kay",
    "engelbart",
    "hoare",
    "milner",
    "wirth",
    "kernighan",
    "pike",
    "stallman",
    "wozniak",
]
DOMAINS = ["example.com", "mail.example", "corp.example", "uni.example.edu", "post.example.org"]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


FILL = f"""
INSERT INTO accounts_user (id, password, is_superuser, email, username, first_name, last_name, is_active,
                           is_staff, date_joined, email_verified_at, deleted_at, mfa_methods)
SELECT gen_random_uuid(), '!', false,
       'user' || i || '.' || l || '@' || ({_array(DOMAINS)})[1 + mod(i, {len(DOMAINS)})],
       'u' || i, initcap(f), initcap(l), true, false,
       now() - make_interval(secs => i * 30),
       CASE WHEN mod(i, 20) = 0 THEN NULL ELSE now() - make_interval(secs => i * 30) END,
       CASE WHEN mod(i, 50) = 0 THEN now() ELSE NULL END,
       '[]'::jsonb
FROM (
  SELECT i, ({_array(FIRST)})[1 + mod(i, {len(FIRST)})] AS f, ({_array(LAST)})[1 + mod(i / 7, {len(LAST)})] AS l
  FROM generate_series(%s::bigint, %s::bigint) AS i
) AS rows
"""


def _index_statements() -> tuple[list[str], list[str]]:
    """(create, drop) statements of the console's search indexes, from its migrations, without CONCURRENTLY
    (nothing else uses the bench database)."""
    search = importlib.import_module("console.migrations.0001_user_search_indexes")
    names = importlib.import_module("console.migrations.0002_name_prefix_and_chart_indexes")
    create = [*search.POSTGRES_FORWARD, search.ORDER_INDEX.format(concurrently=""), *names.POSTGRES_FORWARD]
    drop = [*search.BACKWARD, *(s for s in names.BACKWARD if "console_user" in s)]
    return [s.replace(" CONCURRENTLY", "") for s in create], drop


def fill(target: int) -> None:
    create, drop = _index_statements()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_user")
        have = cursor.fetchone()[0]
        if have >= target:
            print(f"{have} users present")
            for statement in create:  # a kept database gets indexes added since
                cursor.execute(statement)
            cursor.execute("ANALYZE accounts_user")
            return
        print(f"filling {target - have} users (indexes dropped and rebuilt around the insert) …", flush=True)
        started = time.perf_counter()
        for statement in drop:
            cursor.execute(statement)
        cursor.execute(FILL, [have + 1, target])
        for statement in create:
            cursor.execute(statement)
        cursor.execute("ANALYZE accounts_user")
        print(f"filled in {time.perf_counter() - started:.0f} s", flush=True)


def queries(target: int) -> dict[str, list[dict[str, str]]]:
    rnd = random.Random(7)

    def some() -> int:
        return rnd.randint(1, target)

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user ORDER BY date_joined LIMIT 50")
        ids = [str(row[0]) for row in cursor.fetchall()]
    return {
        "e-mail fragment": [{"q": f"user{some()}."} for _ in range(10)],
        "full e-mail": [{"q": f"user{(n := some())}.{LAST[(n // 7) % len(LAST)]}@"} for _ in range(5)],
        "username": [{"q": f"u{some()}"} for _ in range(10)],
        "last name (3%)": [{"q": rnd.choice(LAST)} for _ in range(10)],
        "first + last name": [{"q": f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"} for _ in range(10)],
        "rare substring": [{"q": f"{some()}{some() % 10}zz"} for _ in range(5)],
        "short prefix (2 chars)": [{"q": rnd.choice(["us", "u1", "u9", "zz"])} for _ in range(8)],
        # What people type: a name of one or two letters, names in either order, e-mail fragments.
        "short name (1-2 letters)": [
            {"q": rnd.choice(["Ed", "al", "Ke", "j", "Ti", "gr"])} for _ in range(10)
        ],
        "reversed name": [{"q": f"{rnd.choice(LAST)} {rnd.choice(FIRST)}"} for _ in range(10)],
        "name + initial": [{"q": f"{rnd.choice(FIRST)} {rnd.choice(LAST)[0]}"} for _ in range(6)],
        "e-mail domain fragment": [
            {"q": rnd.choice(["@corp", "uni.example", "post.example.org", "@mail.ex"])} for _ in range(6)
        ],
        "e-mail name@domain": [{"q": f"{rnd.choice(LAST)}@{rnd.choice(DOMAINS)[:4]}"} for _ in range(6)],
        "user id": [{"q": rnd.choice(ids)} for _ in range(5)] + [{"q": str(uuid.uuid4())}],
        "domain + filter": [
            {"q": "corp.example", "status": "unverified"},
            {"q": "example", "status": "deleted"},
        ],
        "filter only": [{"status": s} for s in ("live", "deleted", "unverified", "staff")],
        "page 40": [{"q": "lovelace", "page": "40"}, {"q": "", "page": "40"}],
        "special chars": [{"q": q} for q in ("%", "_", "'", "a%b", "x_y")],
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server (see the docstring)")

    setup_test_environment()
    # Creates (or, kept from an earlier run, reuses) the bench database and migrates it.
    connection.creation.create_test_db(verbosity=0, keepdb=True, serialize=False)
    fill(args.users)

    from accounts.models import User

    # A superuser: holds every console permission (the search needs accounts.view_user).
    staff = User.objects.filter(email="bench-staff@example.com").first() or User.objects.create_user(
        email="bench-staff@example.com", password="bench-password-1", is_staff=True, is_superuser=True
    )
    if not staff.is_superuser:
        User.objects.filter(pk=staff.pk).update(is_superuser=True)
        staff.refresh_from_db()
    client = Client()
    client.force_login(staff)
    headers = {"HX-Request": "true", "HX-Target": "results"}
    plan = queries(args.users)
    load_before = os.getloadavg()[0]

    for params_list in plan.values():  # warm-up: caches, plans, connections
        for params in params_list:
            client.get("/console/users/", params, headers=headers)

    from accounts import selectors as account_selectors
    from console import selectors

    timings: dict[str, list[float]] = {kind: [] for kind in plan}
    sql_timings: dict[str, list[float]] = {kind: [] for kind in plan}
    for _ in range(args.rounds):
        for kind, params_list in plan.items():
            for params in params_list:
                started = time.perf_counter()
                response = client.get("/console/users/", params, headers=headers)
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (params, response.status_code)
                # The database part alone: the page query and the total, as the view and template run them.
                started = time.perf_counter()
                page = selectors.page_of(
                    account_selectors.user_search(query=params.get("q", ""), status=params.get("status", "")),
                    number=int(params.get("page", 1)),
                    size=25,
                )
                assert page.total is not None
                sql_timings[kind].append((time.perf_counter() - started) * 1000)

    every = [t for ts in timings.values() for t in ts]
    every_sql = [t for ts in sql_timings.values() for t in ts]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_user")
        users = cursor.fetchone()[0]
    print(
        f"\nsearch partial on PostgreSQL, {users} users, {len(every)} requests "
        f"(load avg {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
    print(f"{'':<26} {'':>5} {'--- whole request ---':>26}  {'- page + total -':>17}")
    print(
        f"{'query kind':<26} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  {'p50 ms':>8} {'p95 ms':>8}"
    )
    for kind, ts in timings.items():
        q = sql_timings[kind]
        print(
            f"{kind:<26} {len(ts):>5} {statistics.median(ts):>8.1f} {pct(ts, 95):>8.1f} {max(ts):>8.1f}"
            f"  {statistics.median(q):>8.1f} {pct(q, 95):>8.1f}"
        )
    p50, p95 = statistics.median(every), pct(every, 95)
    print(
        f"{'ALL':<26} {len(every):>5} {p50:>8.1f} {p95:>8.1f} {max(every):>8.1f}"
        f"  {statistics.median(every_sql):>8.1f} {pct(every_sql, 95):>8.1f}"
    )
    print(f"target p95 < 50 ms (whole request): {'met' if p95 < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
