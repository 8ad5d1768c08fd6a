"""Benchmark: the service under gunicorn with the production settings against a bare django-ninja endpoint
served by the same processes. Run it through `bash bench/run` (installs what it needs). Stdlib only (and psycopg for --db postgres).

    bash bench/run [--db sqlite|postgres] [--quick] [--duration S] [--rounds N] [--connections 16,4]
                   [--pg-connections persistent|pool] [--no-login]

Every scenario runs at each connection count (default wrk -t2 -c16, then -c4) in interleaved rounds (default
3 rounds of 10 s: bare, me, refresh at -c16, the same at -c4, next round …): each ratio compares runs measured
seconds apart, because the load of a shared machine drifts. Login runs at the first connection count, each
round right after timing the password check. One table: req/s per round and median, ratio per round and
median, p50/p99, non-2xx.

--db postgres: a temporary database on the server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/;
created for the run, dropped after it) and Redis at REDIS_URL (default redis://127.0.0.1:6379/0, keys under a
per-run prefix), as in production.

Environment (optional; the options win): BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS ("16,4"),
BENCH_THREADS (2), BENCH_WORKERS (2 gunicorn sync workers), BENCH_LOGIN_ROUNDS (3), BENCH_LOGIN_DURATION (8),
BENCH_KEEP (keep the temporary directory: database, gunicorn log).

Scenarios are the SCENARIOS list below: one entry per path (a wrk mode of bench/wrk/scenario.lua, the file of
tokens or logins it takes, and its target).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
LUA = str(ROOT / "bench" / "wrk" / "scenario.lua")
PASSWORD = "bench-correct-horse-9"
USERS = 200
WORKERS = int(os.environ.get("BENCH_WORKERS") or 2)


@dataclass(frozen=True)
class Scenario:
    key: str  # the wrk mode (bench/wrk/scenario.lua)
    label: str
    data: str | None  # the seeded file it reads: "access", "refresh" (one file per level and round), "logins"
    target: float | None  # ratio to the reference that is wanted
    reference: str = "bare"  # "bare" (the same round's bare run) or "bound" (workers / one password check)
    per_level: bool = True  # measured at every connection count, else at the first only


SCENARIOS = [
    Scenario("bare", "bare django-ninja (GET /api/v1/bench/bare)", None, None),
    Scenario("me", "GET /api/v1/me (bearer)", "access", 0.55),
    Scenario("refresh", "POST /api/v1/auth/token/refresh", "refresh", 0.35),
    Scenario("login", "POST /api/v1/auth/token (login)", "logins", 0.92, reference="bound", per_level=False),
]
# PostgreSQL targets where they differ from SQLite's.
PG_TARGETS = {"me": 0.50, "refresh": 0.30}


def options(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default=None)
    p.add_argument(
        "--quick", action="store_true", help="2 rounds of 3 s, login 1 round of 4 s: for iterating"
    )
    p.add_argument("--duration", type=int, default=None, help="seconds per scenario and round (10)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (3)")
    p.add_argument("--connections", default=None, help="wrk connection counts, comma-separated (16,4)")
    p.add_argument("--threads", type=int, default=int(env("BENCH_THREADS") or 2))
    p.add_argument("--pg-connections", choices=["persistent", "pool"], default=None,
                   help="PostgreSQL: persistent connections (DB_CONN_MAX_AGE) or a psycopg pool (DB_POOL_SIZE)")  # fmt: skip
    p.add_argument("--no-login", action="store_true")
    p.add_argument("--only", default=None, help="comma-separated scenario keys (bare is always run)")
    a = p.parse_args(argv)
    quick = a.quick
    a.duration = a.duration or int(env("BENCH_DURATION") or (3 if quick else 10))
    a.rounds = a.rounds or int(env("BENCH_ROUNDS") or (2 if quick else 3))
    a.levels = [int(c) for c in (a.connections or env("BENCH_CONNECTIONS") or "16,4").split(",")]
    a.login_rounds = 1 if quick else int(env("BENCH_LOGIN_ROUNDS") or 3)
    a.login_duration = 4 if quick else int(env("BENCH_LOGIN_DURATION") or 8)
    url = env("DATABASE_URL") or ""
    if a.db is None:
        a.db = "postgres" if url.startswith("postgres") else "sqlite"
    keys = {"bare", *(a.only.split(",") if a.only else [s.key for s in SCENARIOS])}
    if a.no_login:
        keys.discard("login")
    a.scenarios = [s for s in SCENARIOS if s.key in keys]
    return a


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def django_env(
    tmp: Path, database_url: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HUEY_", "EMAIL_", "DB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # the production settings, not config.settings_test
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        VAR_DIR=str(tmp),
        DATABASE_URL=database_url or os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
        BENCH_ENDPOINTS="true",
        # TLS ends at the proxy in production; wrk sends X-Forwarded-Proto: https like the proxy would.
        SECURE_PROXY_SSL_HEADER="true",
        TRUSTED_PROXY_COUNT="1",  # and the client's address in X-Forwarded-For (login scenario)
        ACCESS_TOKEN_MINUTES="15",  # seeded access tokens must outlive the whole run
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return done.stdout


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.stderr.write(log.read_text())
            raise SystemExit("gunicorn exited")
        try:
            req = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer in 60 s")


def wrk(
    base: str, mode: str, seconds: int, datafile: str = "-", connections: int = 4, threads: int = 1
) -> dict[str, float]:
    threads = min(threads, connections)
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", LUA, base,
        "--", mode, datafile, str(threads), PASSWORD,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    data["rps"] = data["ok"] / (data["duration_us"] / 1e6)
    return data


def _pg_database(url: str, run_id: str) -> tuple[str, str]:
    """A new database on the server of `url`; returns its URL and the maintenance URL to drop it with."""
    import psycopg

    parts = urllib.parse.urlsplit(url or "postgres://postgres@127.0.0.1:5432/")
    base = (parts.path.strip("/") or "custodian_bench").replace("-", "_")
    name = f"{base}_{run_id}"
    admin = urllib.parse.urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}")), admin


def _pg_drop(admin: str, url: str) -> None:
    import psycopg

    name = urllib.parse.urlsplit(url).path.strip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    a = options(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (bench/run installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="custodian-bench-"))
    run_id = secrets.token_hex(4)
    extra: dict[str, str] = {}
    database_url, admin_url = f"sqlite:///{tmp / 'bench.sqlite3'}", ""
    if a.db == "postgres":
        given = os.environ.get("DATABASE_URL", "")
        database_url, admin_url = _pg_database(given if given.startswith("postgres") else "", run_id)
        extra = {
            "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
            "CACHE_KEY_PREFIX": f"bench-{run_id}",
            "HUEY_NAME": f"bench-{run_id}",
        }
        if a.pg_connections == "pool":
            extra["DB_POOL_SIZE"] = str(max(2, WORKERS))
        elif a.pg_connections == "persistent":
            extra["DB_POOL_SIZE"] = "0"
    env = django_env(tmp, database_url, extra)
    for k in ("DB_POOL_SIZE", "DB_CONN_MAX_AGE", "DB_CONN_HEALTH_CHECKS", "DB_SERVER_SIDE_BINDING"):
        if k in os.environ and k not in extra:
            env[k] = os.environ[k]  # an explicit choice of the caller
    db = "PostgreSQL" if a.db == "postgres" else "SQLite"
    levels, threads = a.levels, a.threads
    try:
        print(f"setting up: {db}, {WORKERS} gunicorn sync workers, wrk -t{threads} -c{'/'.join(map(str, levels))}, "
              f"{a.rounds} rounds of {a.duration}s", flush=True)  # fmt: skip
        run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
        # Every (level, round) rotates its own refresh chains: a token is presented once in the whole run.
        per_run = [max(64, 4 * c) for c in levels]
        sessions = sum(per_run) * a.rounds
        seeded = json.loads(run([PY, "bench/tool.py", "seed", str(tmp), run_id, str(USERS), str(sessions),
                                 PASSWORD], env))  # fmt: skip
        refresh_tokens = (tmp / "refresh.txt").read_text().split()
        start = 0
        for r in range(a.rounds):
            for c, n in zip(levels, per_run, strict=True):
                (tmp / f"refresh-{c}-{r}.txt").write_text("\n".join(refresh_tokens[start : start + n]) + "\n")
                start += n
        return _measure(a, env, tmp, db, seeded)
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        if admin_url:
            _pg_drop(admin_url, database_url)


def _measure(
    a: argparse.Namespace, env: dict[str, str], tmp: Path, db: str, seeded: dict[str, object]
) -> int:
    levels, threads = a.levels, a.threads
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    load_before = os.getloadavg()
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    hashing: list[dict[str, float]] = []

    def datafile(s: Scenario, c: int, r: int) -> str:
        if s.data is None:
            return "-"
        if s.data == "refresh":
            return str(tmp / f"refresh-{c}-{r}.txt")
        return str(tmp / f"{s.data}.txt")

    with log.open("wb") as log_fh:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "--workers", str(WORKERS),
             "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=log_fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(f"{base}/health", server, log)
        wrk(base, "bare", 2, connections=levels[0], threads=threads)  # warm-up: imports, connections, caches
        wrk(base, "me", 2, str(tmp / "access.txt"), connections=levels[0], threads=threads)
        for r in range(a.rounds):
            for c in levels:
                todo = [s for s in a.scenarios if s.reference == "bare"]
                print(f"round {r + 1}/{a.rounds}, -c{c}: {', '.join(s.key for s in todo)}", flush=True)
                for s in todo:
                    runs.setdefault((s.key, c), []).append(
                        wrk(base, s.key, a.duration, datafile(s, c, r), connections=c, threads=threads)
                    )
        for s in [s for s in a.scenarios if s.reference == "bound"]:
            for r in range(a.login_rounds):
                print(
                    f"round {r + 1}/{a.login_rounds}, -c{levels[0]}: password check time, {s.key}", flush=True
                )
                hashing.append(
                    json.loads(run([PY, "bench/tool.py", "hash-time", PASSWORD, "5", str(WORKERS)], env))
                )
                runs.setdefault((s.key, levels[0]), []).append(
                    wrk(base, s.key, a.login_duration, datafile(s, levels[0], r), connections=levels[0], threads=threads)
                )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    return _report(a, db, runs, hashing, load_before, seeded)


def _report(
    a: argparse.Namespace,
    db: str,
    runs: dict[tuple[str, int], list[dict[str, float]]],
    hashing: list[dict[str, float]],
    load_before: tuple[float, float, float],
    seeded: dict[str, object],
) -> int:
    med = statistics.median
    bounds = [WORKERS / h["hash_seconds"] for h in hashing]
    concurrent_bounds = [WORKERS / h["hash_seconds_concurrent"] for h in hashing]
    print()
    print(
        f"{db}, gunicorn {WORKERS} sync workers, wrk -t{a.threads}, {a.rounds} interleaved rounds of {a.duration}s "
        f"per scenario and connection count ({a.login_rounds} of {a.login_duration}s for login); "
        f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    if hashing:
        print(
            f"password hasher {hashing[0]['algorithm']}: one check {med([h['hash_seconds'] for h in hashing]) * 1000:.0f} ms "
            f"-> login bound {WORKERS} workers / check time = {med(bounds):.1f} req/s "
            f"({WORKERS} checks at once: {med([h['hash_seconds_concurrent'] for h in hashing]) * 1000:.0f} ms "
            f"each -> {med(concurrent_bounds):.1f} req/s)"
        )
    print("median: of the rounds; ratio: per round to the same round's bare run (login: to the bound), and "
          "their median; p50: median of the rounds, p99: worst round")  # fmt: skip
    print()
    print(
        "| scenario | conns | req/s per round | req/s | ratio per round | ratio | p50 ms | p99 ms | non-2xx | target | met |"
    )
    print("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |")
    failed = False
    for c in a.levels:
        for s in a.scenarios:
            rs = runs.get((s.key, c))
            if not rs:
                continue
            if s.reference == "bare":
                ratios = [m["rps"] / b["rps"] for m, b in zip(rs, runs[("bare", c)], strict=True)]
            else:
                ratios = [m["rps"] / b for m, b in zip(rs, bounds, strict=True)]
            target = PG_TARGETS.get(s.key, s.target) if db == "PostgreSQL" else s.target
            ratio = med(ratios)
            unit = "bound" if s.reference == "bound" else "bare"
            non_2xx = int(sum(r["non_2xx"] for r in rs))
            per_round_rps = " ".join(f"{r['rps']:.0f}" for r in rs)
            print(
                f"| {s.label} | {c} | {per_round_rps} | {med([r['rps'] for r in rs]):.0f} | "
                f"{' '.join(f'{x:.2f}' for x in ratios) if target else ''} | {ratio:.2f}x {unit} | "
                f"{med([r['p50_us'] for r in rs]) / 1000:.1f} | {max(r['p99_us'] for r in rs) / 1000:.1f} | {non_2xx} | "
                f"{f'>= {target}x {unit}' if target else ''} | {'' if target is None else ('yes' if ratio >= target else 'NO')} |"
            )
            socket_errors = int(sum(r["socket_errors"] for r in rs))
            if non_2xx or socket_errors:
                failed = True
                statuses = " ".join(r["statuses"].strip() for r in rs).strip()
                print(f"  !! {s.key} -c{c}: {non_2xx} non-2xx ({statuses}), {socket_errors} socket errors")
    login = runs.get(("login", a.levels[0]))
    if login:
        vs = med([m["rps"] / b for m, b in zip(login, concurrent_bounds, strict=True)])
        print(f"\nlogin / bound with {WORKERS} concurrent checks: {vs:.2f}x")
    print(f"seeded: {seeded}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
