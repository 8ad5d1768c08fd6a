"""Django-side helpers of bench/run.py, run with the production settings (config.settings):

python bench/tool.py seed OUTDIR RUN_ID USERS SESSIONS PASSWORD   users, sessions and token files for wrk
python bench/tool.py hash-time PASSWORD [N]                          median seconds of one password check
python bench/tool.py profile OUTDIR MODE N PASSWORD                  pyinstrument profile of N requests
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import Profile, User  # noqa: E402


def seed(outdir: Path, run_id: str, users: int, sessions: int, password: str) -> None:
    # One real (Argon2, production parameters) hash shared by every seeded user: hashing each would take
    # minutes and changes nothing about what a login costs.
    encoded = make_password(password)
    now = timezone.now()
    rows = [
        User(email=f"bench-{run_id}-{i}@example.com", password=encoded, email_verified_at=now)
        for i in range(users)
    ]
    User.objects.bulk_create(rows, batch_size=500)
    Profile.objects.bulk_create([Profile(user=u) for u in rows], batch_size=500)
    (outdir / "logins.txt").write_text("".join(f"{u.email}\n" for u in rows))
    access, refresh = [], []
    for i in range(sessions):
        # GET /me and refresh use separate sessions: a refresh rotates its session, /me only reads its own.
        _, pair = services.session_open(user=rows[i % users], via="password")
        access.append(pair.access)
        _, pair = services.session_open(user=rows[(i + sessions) % users], via="password")
        refresh.append(pair.refresh)
    (outdir / "access.txt").write_text("".join(f"{t}\n" for t in access))
    (outdir / "refresh.txt").write_text("".join(f"{t}\n" for t in refresh))
    # A database in use has its planner statistics (autovacuum keeps them); a freshly seeded one has none
    # until autovacuum's next pass, and without them PostgreSQL plans the session lookup as a hash join over
    # a scan of every user (0.08 ms more a request at 200 users, growing with the table).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(json.dumps({"users": users, "sessions": sessions, "hasher": encoded.split("$", 1)[0]}))


def _check_times(password: str, encoded: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        assert check_password(password, encoded)
        times.append(time.perf_counter() - start)
    return times


def hash_time(password: str, n: int, parallel: int) -> None:
    """Median wall time of one password check: alone (the login bound is workers / this), and with `parallel` processes
    checking at once, as the web workers do under a login load."""
    from concurrent.futures import ProcessPoolExecutor

    encoded = make_password(password)
    check_password(password, encoded)  # warm-up
    alone = statistics.median(_check_times(password, encoded, n))
    with ProcessPoolExecutor(parallel) as pool:
        results = list(pool.map(_check_times, [password] * parallel, [encoded] * parallel, [n] * parallel))
    concurrent = statistics.median(t for times in results for t in times)
    print(
        json.dumps(
            {
                "hash_seconds": alone,
                "hash_seconds_concurrent": concurrent,
                "parallel": parallel,
                "algorithm": encoded.split("$", 2)[1] + "$" + encoded.split("$")[3],
            }
        )
    )


def profile(outdir: Path, mode: str, n: int, password: str) -> None:
    """The same request path as under gunicorn (WSGI handler, every middleware), in-process, profiled."""
    from django.test import Client
    from pyinstrument import Profiler

    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    access = (outdir / "access.txt").read_text().split()
    refresh = (outdir / "refresh.txt").read_text().split()
    logins = (outdir / "logins.txt").read_text().split()

    def once(i: int) -> int:
        if mode == "bare":
            return client.get("/api/v1/bench/bare").status_code
        if mode == "me":
            return client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {access[i % len(access)]}"}
            ).status_code
        if mode == "refresh":
            resp = client.post(
                "/api/v1/auth/token/refresh",
                {"refresh": refresh[i % len(refresh)]},
                content_type="application/json",
            )
            refresh[i % len(refresh)] = resp.json().get("refresh", "")
            return resp.status_code
        body = {"login": logins[i % len(logins)], "password": password}
        return client.post("/api/v1/auth/token", body, content_type="application/json").status_code

    for i in range(20):
        assert once(i) == 200
    profiler = Profiler(interval=0.0002)
    start = time.perf_counter()
    with profiler:
        for i in range(20, 20 + n):
            assert once(i) == 200
    elapsed = time.perf_counter() - start
    print(f"{mode}: {n} requests in {elapsed:.2f}s = {elapsed / n * 1e6:.0f} us/request in-process")
    print(
        profiler.output_text(
            unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL")), timeline=False
        )
    )


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "seed":
        seed(Path(args[0]), args[1], int(args[2]), int(args[3]), args[4])
    elif command == "hash-time":
        hash_time(args[0], int(args[1]), int(args[2]))
    elif command == "profile":
        profile(Path(args[0]), args[1], int(args[2]), args[3])
    else:
        raise SystemExit(f"unknown command {command}")
