"""Benchmark: the two steps of an MFA login next to a password-only login.

    .venv/bin/python bench/mfa.py [--users 100] [--rounds 3]
    DATABASE_URL=postgres://…/scratch REDIS_URL=redis://…/15 .venv/bin/python bench/mfa.py

Each request goes through Django's WSGI handler in this process (every middleware, the Ninja API, real
commits), timed with perf_counter, and its SQL statements are counted (without the transaction brackets, as the query-budget tests do). Per round and user, interleaved:

- `password only`: `POST /auth/token` of a user without a second factor (200, the token pair);
- `mfa: password step`: `POST /auth/token` of a TOTP user (202, the single-use `mfa_token`);
- `mfa: verify (totp)`: `POST /auth/mfa/verify` with that token and a code computed like an authenticator app
  (pyotp) — the step that opens the session;
- `mfa: verify (recovery)`: the same with one of the user's recovery codes.

Every TOTP user logs in once (a code is accepted once per step, so a user cannot log in twice in 30 s): the
users are set up through the API (`POST /me/mfa/totp`, `…/confirm`) right before their login, which uses the
next step's code (inside the ±1 step window, after the code the confirmation spent). Passwords use Django's MD5
hasher, as in bench/outbox.py, so Argon2 (~180 ms a check, the same in both logins) does not bury the rest;
`mfa: total` = password step + verify is what a client waits for besides the two password hashes.

Uses a throw-away SQLite database (DATABASE_URL instead when set: a scratch database the benchmark may
migrate, empty and fill).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-horse-battery-9"
# Transaction brackets are not counted (as in the query-budget tests): BEGIN/COMMIT, savepoints.
BRACKET = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b", re.IGNORECASE)
STEPS = ("password only", "mfa: password step", "mfa: verify (totp)", "mfa: verify (recovery)", "mfa: total")


def setup(tmp: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.outbox import setup as django_setup

    django_setup(tmp, huey_name="custodian-bench-mfa")


class Api:
    def __init__(self) -> None:
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        self.client = Client()
        self.connection = connection
        self.capture = lambda: CaptureQueriesContext(connection)

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> tuple[Any, float, int]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # The log is a bounded deque: once full, CaptureQueriesContext's slice of it comes out empty.
        self.connection.queries_log.clear()
        with self.capture() as queries:
            start = time.perf_counter()
            response = self.client.post(
                f"/api/v1{path}", json.dumps(body), content_type="application/json", headers=headers
            )
            elapsed = (time.perf_counter() - start) * 1000
        statements = [q["sql"] for q in queries.captured_queries if not BRACKET.match(q["sql"])]
        return response, elapsed, len(statements)


def code_for(secret: str, steps: int = 0) -> str:
    import pyotp
    from django.conf import settings

    period = settings.MFA_TOTP_PERIOD
    return str(
        pyotp.TOTP(secret, digits=settings.MFA_TOTP_DIGITS, interval=period).at(time.time() + steps * period)
    )


def make_user(email: str) -> None:
    from django.utils import timezone

    from accounts.models import User

    User.objects.create_user(email=email, password=PASSWORD, email_verified_at=timezone.now())


def enroll(api: Api, email: str) -> dict[str, Any]:
    """A verified user with TOTP on, set up through the API; its secret and recovery codes."""
    make_user(email)
    r, _, _ = api.post("/auth/token", {"login": email, "password": PASSWORD})
    assert r.status_code == 200, r.content
    access = r.json()["access"]
    r, _, _ = api.post("/me/mfa/totp", {}, token=access)
    assert r.status_code == 201, r.content
    secret = r.json()["secret"]
    r, _, _ = api.post("/me/mfa/totp/confirm", {"code": code_for(secret), "password": PASSWORD}, token=access)
    assert r.status_code == 201, r.content
    return {"secret": secret, "recovery_codes": r.json()["recovery_codes"]}


def run(users: int, rounds: int) -> dict[str, Any]:
    from django.test import override_settings

    api = Api()
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    queries: dict[str, set[int]] = {step: set() for step in STEPS}
    n = 0
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        for round_number in range(rounds + 1):  # round 0 warms up (templates, resolvers, statements)
            for _ in range(users if round_number else 10):
                n += 1
                plain, mfa, spare = f"plain{n}@example.com", f"mfa{n}@example.com", f"spare{n}@example.com"
                make_user(plain)
                factors = enroll(api, mfa)
                recovery = enroll(api, spare)["recovery_codes"][0]
                sample: dict[str, tuple[float, int]] = {}

                r, ms, q = api.post("/auth/token", {"login": plain, "password": PASSWORD})
                assert r.status_code == 200, r.content
                sample["password only"] = (ms, q)

                r, ms, q = api.post("/auth/token", {"login": mfa, "password": PASSWORD})
                assert r.status_code == 202, r.content
                sample["mfa: password step"] = (ms, q)
                r, ms, q = api.post(
                    "/auth/mfa/verify",
                    {"mfa_token": r.json()["mfa_token"], "code": code_for(factors["secret"], steps=1)},
                )
                assert r.status_code == 200, r.content
                sample["mfa: verify (totp)"] = (ms, q)
                sample["mfa: total"] = (
                    sample["mfa: password step"][0] + ms,
                    sample["mfa: password step"][1] + q,
                )

                r, _, _ = api.post("/auth/token", {"login": spare, "password": PASSWORD})
                assert r.status_code == 202, r.content
                r, ms, q = api.post(
                    "/auth/mfa/verify", {"mfa_token": r.json()["mfa_token"], "code": recovery}
                )
                assert r.status_code == 200, r.content
                sample["mfa: verify (recovery)"] = (ms, q)

                if round_number:
                    for step, (ms, q) in sample.items():
                        times[step].append(ms)
                        queries[step].add(q)
    return {"times": times, "queries": queries, "users": users, "rounds": rounds}


def report(data: dict[str, Any]) -> None:
    from django.db import connection

    print(
        f"\nMFA login steps on {connection.vendor}: {data['rounds']} rounds × {data['users']} logins per step, "
        "in-process WSGI, MD5 hasher (times in ms)"
    )
    print("| step | p50 | p95 | SQL statements | ÷ password-only p50 |\n| --- | ---: | ---: | ---: | ---: |")
    base = statistics.median(data["times"]["password only"])
    for step in STEPS:
        values = sorted(data["times"][step])
        p50 = statistics.median(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        counts = sorted(data["queries"][step])
        shown = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        print(f"| {step} | {p50:.1f} | {p95:.1f} | {shown} | {p50 / base:.2f}× |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100, help="logins per step and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custodian-bench-mfa-") as tmp:
        load = os.getloadavg()[0]
        setup(tmp)
        data = run(args.users, args.rounds)
        from huey.contrib.djhuey import HUEY

        HUEY.flush()  # the relay kicks (nobody consumes this queue)
        print(f"load average (1 min) at start {load:.2f}, at end {os.getloadavg()[0]:.2f}")
        report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
