"""Where a scenario's time goes in the gunicorn workers: py-spy samples both workers (idle and waiting
included) while wrk drives one scenario, then the samples are grouped. Run through `bash bench/profile MODE`
(MODE: bare | me | refresh | login; DATABASE_URL as for bench/run).
"""

from __future__ import annotations

import collections
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import PASSWORD, PY, ROOT, WORKERS, django_env, free_port, run, wait_ready, wrk

# First match wins, checked from the innermost frame outwards.
GROUPS = [
    ("sqlite3 / psycopg call (query, commit, lock wait)", ("sqlite3/base.py", "backends/utils.py:_execute", "psycopg", "_commit", "_start_transaction")),
    ("password hashing", ("argon2", "hashers.py")),
    ("gunicorn: accept, read, write, close", ("gunicorn/util.py", "gunicorn/workers/sync.py", "gunicorn/http", "socket.py", "selectors.py")),
    ("JWT (PyJWT, ninja-jwt)", ("jwt/", "ninja_jwt/")),
    ("audit event", ("audit/",)),
    ("Django ORM (query building, model save)", ("django/db/models/",)),
    ("our code (accounts, config)", ("accounts/", "config/")),
    ("ninja + pydantic", ("ninja/", "pydantic")),
    ("Django request/response, middleware", ("django/",)),
]  # fmt: skip


def group_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in GROUPS:
            if any(n in frame for n in needles):
                return name
    return "other"


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "refresh"
    seconds = int(os.environ.get("BENCH_DURATION") or 8)
    tmp = Path(tempfile.mkdtemp(prefix="custodian-profile-"))
    env = django_env(tmp)
    run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
    run([PY, "bench/tool.py", "seed", str(tmp), secrets.token_hex(4), "200", "128", PASSWORD], env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    with log.open("wb") as fh:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "--workers", str(WORKERS),
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    raw = tmp / "py-spy.txt"
    try:
        wait_ready(f"{base}/health", server, log)
        wrk(base, "bare", 2)
        data = {"me": "access.txt", "refresh": "refresh.txt", "login": "logins.txt"}.get(mode)
        spy = [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--idle", "--subprocesses", "-r", "250",
               "-d", str(seconds), "-f", "raw", "-o", str(raw), "-p", str(server.pid)]  # fmt: skip
        profiler = threading.Thread(target=subprocess.run, args=(spy,), kwargs={"capture_output": True})
        profiler.start()
        conns = int(os.environ.get("BENCH_CONNECTIONS") or 16)
        result = wrk(base, mode, seconds, str(tmp / data) if data else "-", connections=conns, threads=2)
        profiler.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    counts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not any("gunicorn/workers" in f for f in frames):
            continue  # the master process: it only supervises
        counts[group_of(frames)] += int(n)
        leaves[frames[-1]] += int(n)
    shutil.rmtree(tmp, ignore_errors=True)
    total = sum(counts.values()) or 1
    print(
        f"{mode}: {result['rps']:.0f} req/s, p50 {result['p50_us'] / 1000:.1f} ms, non-2xx {int(result['non_2xx'])}"
    )
    print(
        f"py-spy, {WORKERS} workers, {total} samples (wall clock, idle included), by innermost matching frame:"
    )
    for name, n in counts.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print("top frames:")
    for frame, n in leaves.most_common(int(os.environ.get("PROFILE_TOP") or 12)):
        print(f"  {n / total:6.1%}  {frame[:110]}")
    print(json.dumps({k: round(v / total, 3) for k, v in counts.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
