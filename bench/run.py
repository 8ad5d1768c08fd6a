"""Benchmark: the service under gunicorn with the production settings against a bare django-ninja endpoint
served by the same processes. Run it through `bash bench/run` (installs what it needs). Stdlib only.

Environment (all optional):
  DATABASE_URL       PostgreSQL to benchmark on (a scratch database: it is migrated and gets bench users);
                     default: a temporary SQLite file
  REDIS_URL          cache/queue as in production; default: local-memory cache
  BENCH_DURATION     seconds per scenario and round (default 2)
  BENCH_ROUNDS       interleaved rounds of bare, me, refresh (default 8): each ratio compares runs measured
                     seconds apart, and the median of the rounds is reported (the machine's load drifts)
  BENCH_LOGIN_ROUNDS, BENCH_LOGIN_DURATION   rounds of (password check timing, login run): 3, 8 s
  BENCH_WORKERS      gunicorn sync workers (default 2)
  BENCH_CONNECTIONS  wrk connections (default 4), BENCH_THREADS wrk threads (default 1)
  BENCH_KEEP         keep the temporary directory (database, gunicorn log)
"""

from __future__ import annotations

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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
LUA = str(ROOT / "bench" / "wrk" / "scenario.lua")
PASSWORD = "bench-correct-horse-9"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


DURATION = _int("BENCH_DURATION", 2)
ROUNDS = _int("BENCH_ROUNDS", 8)
LOGIN_DURATION = _int("BENCH_LOGIN_DURATION", 8)
LOGIN_ROUNDS = _int("BENCH_LOGIN_ROUNDS", 3)
WORKERS = _int("BENCH_WORKERS", 2)
CONNECTIONS = _int("BENCH_CONNECTIONS", 4)
THREADS = _int("BENCH_THREADS", 1)
USERS = 200
SESSIONS = max(64, 4 * CONNECTIONS * THREADS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def django_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HUEY_", "EMAIL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # the production settings, not config.settings_test
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        VAR_DIR=str(tmp),
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
        BENCH_ENDPOINTS="true",
        # TLS ends at the proxy in production; wrk sends X-Forwarded-Proto: https like the proxy would.
        SECURE_PROXY_SSL_HEADER="true",
        TRUSTED_PROXY_COUNT="1",  # and the client's address in X-Forwarded-For (login scenario)
        ACCESS_TOKEN_MINUTES="15",  # seeded access tokens must outlive the whole run
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
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


def wrk(base: str, mode: str, seconds: int, datafile: str = "-") -> dict[str, float]:
    cmd = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", LUA, base,
        "--", mode, datafile, str(THREADS), PASSWORD,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    data["rps"] = data["ok"] / (data["duration_us"] / 1e6)
    return data


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (bench/run installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="custodian-bench-"))
    env = django_env(tmp)
    db = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
    load_before = os.getloadavg()
    print(f"setting up: {db}, {WORKERS} gunicorn sync workers, wrk -t{THREADS} -c{CONNECTIONS}", flush=True)
    run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
    seeded = json.loads(run([PY, "bench/tool.py", "seed", str(tmp), secrets.token_hex(4), str(USERS),
                             str(SESSIONS * ROUNDS), PASSWORD], env))  # fmt: skip
    # Every round rotates its own refresh chains: a token is presented once in the whole run.
    refresh_tokens = (tmp / "refresh.txt").read_text().split()
    for r in range(ROUNDS):
        (tmp / f"refresh-{r}.txt").write_text("\n".join(refresh_tokens[r::ROUNDS]) + "\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    with log.open("wb") as log_fh:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "--workers", str(WORKERS),
             "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=log_fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "me": [], "refresh": [], "login": []}
    hashing: list[dict[str, float]] = []
    try:
        wait_ready(f"{base}/health", server, log)
        wrk(base, "bare", 2)  # warm-up: imports, connections, caches
        wrk(base, "me", 2, str(tmp / "access.txt"))
        # Interleaved rounds: on a shared machine the load drifts; each ratio compares runs seconds apart.
        for r in range(ROUNDS):
            print(f"round {r + 1}/{ROUNDS}: bare, me, refresh", flush=True)
            runs["bare"].append(wrk(base, "bare", DURATION))
            runs["me"].append(wrk(base, "me", DURATION, str(tmp / "access.txt")))
            runs["refresh"].append(wrk(base, "refresh", DURATION, str(tmp / f"refresh-{r}.txt")))
        for r in range(LOGIN_ROUNDS):
            print(f"round {r + 1}/{LOGIN_ROUNDS}: password check time, login", flush=True)
            hashing.append(
                json.loads(run([PY, "bench/tool.py", "hash-time", PASSWORD, "5", str(WORKERS)], env))
            )
            runs["login"].append(wrk(base, "login", LOGIN_DURATION, str(tmp / "logins.txt")))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    bounds = [WORKERS / h["hash_seconds"] for h in hashing]
    concurrent_bounds = [WORKERS / h["hash_seconds_concurrent"] for h in hashing]
    ratios = {
        "bare": [1.0] * ROUNDS,  # the reference
        "me": [m["rps"] / b["rps"] for m, b in zip(runs["me"], runs["bare"], strict=True)],
        "refresh": [m["rps"] / b["rps"] for m, b in zip(runs["refresh"], runs["bare"], strict=True)],
        "login": [m["rps"] / b for m, b in zip(runs["login"], bounds, strict=True)],
    }
    rows = [
        ("bare django-ninja (GET /api/v1/bench/bare)", "bare", None),
        ("GET /api/v1/me (bearer)", "me", 0.5),
        ("POST /api/v1/auth/token/refresh", "refresh", 0.3),
        ("POST /api/v1/auth/token (login)", "login", 0.9),
    ]
    print()
    print(
        f"{db}, gunicorn {WORKERS} sync workers, wrk -t{THREADS} -c{CONNECTIONS}, {ROUNDS} interleaved rounds of "
        f"{DURATION}s per scenario ({LOGIN_ROUNDS} of {LOGIN_DURATION}s for login); {os.cpu_count()} CPUs, load average "
        f"before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    print(
        f"password hasher {hashing[0]['algorithm']}: one check {_median([h['hash_seconds'] for h in hashing]) * 1000:.0f} ms "
        f"-> login bound {WORKERS} workers / check time = {_median(bounds):.1f} req/s "
        f"({WORKERS} checks at once: {_median([h['hash_seconds_concurrent'] for h in hashing]) * 1000:.0f} ms "
        f"each -> {_median(concurrent_bounds):.1f} req/s)"
    )
    print("req/s and p50: median of the rounds; p99: worst round; ratio: median of the per-round ratios")
    print()
    print("| scenario | req/s | p50 ms | p99 ms | non-2xx | ratio | per round | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    failed = False
    for label, key, target in rows:
        rs = runs[key]
        ratio = _median(ratios[key])
        unit = "bound" if key == "login" else "bare"
        target_text = f">= {target}x {unit}" if target else ""
        met = "" if target is None else ("yes" if ratio >= target else "NO")
        per_round = " ".join(f"{x:.2f}" for x in ratios[key]) if target else ""
        non_2xx = int(sum(r["non_2xx"] for r in rs))
        print(
            f"| {label} | {_median([r['rps'] for r in rs]):.0f} | {_median([r['p50_us'] for r in rs]) / 1000:.1f} | "
            f"{max(r['p99_us'] for r in rs) / 1000:.1f} | {non_2xx} | {ratio:.2f}x {unit} | {per_round} | "
            f"{target_text} | {met} |"
        )
        socket_errors = int(sum(r["socket_errors"] for r in rs))
        if non_2xx or socket_errors:
            failed = True
            statuses = " ".join(r["statuses"].strip() for r in rs).strip()
            print(f"  !! {key}: {non_2xx} non-2xx ({statuses}), {socket_errors} socket errors")
    login_vs_concurrent = _median(
        [m["rps"] / b for m, b in zip(runs["login"], concurrent_bounds, strict=True)]
    )
    print(f"\nlogin / bound with {WORKERS} concurrent checks: {login_vs_concurrent:.2f}x")
    print(f"seeded: {seeded}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
