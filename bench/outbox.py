"""Benchmark: what the outbox costs `POST /auth/register` and `DELETE /me`, and what a relay delivers per second.

    .venv/bin/python bench/outbox.py [--requests 120] [--rounds 6]
    DATABASE_URL=postgres://…/scratch REDIS_URL=redis://…/15 .venv/bin/python bench/outbox.py

Each request goes through Django's WSGI handler in this process (every middleware, the Ninja API, real
commits), timed with perf_counter, in three variants that differ only in the outbox:

- `none`: `outbox.publish` replaced by a no-op (no rows, no kick): the operation without its side effects;
- `rows`: the rows are written in the change's transaction, the relay kick is off;
- `rows+kick`: as deployed: the rows, then one relay task queued on commit (huey on the SQLite queue file,
  or Redis when REDIS_URL is set).

`rows - none` is the outbox's own cost; `kick` is the broker round trip (the enqueue that every side effect
paid before the outbox too). The variants run interleaved in rounds (`--rounds`, each `--requests` per
variant and operation) because the load of a shared machine drifts; medians are over all requests. Passwords
use Django's MD5 hasher so that Argon2 (~180 ms a check on this machine, the same in every variant) does not
bury a difference of a millisecond; the figures are the rest of the request. Last, the relay delivers the
rows the `rows` and `rows+kick` runs left (mails into the local-memory mailbox, the erasures that deleted
accounts open), timed per row.

The request figures carry the noise of a whole request; `--publish` iterations (default 3000, the three cases interleaved)
time the outbox alone: a transaction that updates one row, with and without one `mail.enqueue` (one outbox
row of a verification mail's size), and the same with the kick on (one enqueue on commit).

Uses a throw-away SQLite database (DATABASE_URL instead when set: a scratch database the benchmark may
migrate, empty and fill).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-horse-battery-9"
VARIANTS = ("none", "rows", "rows+kick")


def setup(tmp: str, huey_name: str = "custodian-bench-outbox") -> None:
    """Django on a throw-away SQLite database in `tmp` (DATABASE_URL instead when set), production-like
    settings, its own queue name; migrated and emptied. bench/mfa.py uses it too."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": tmp,
            "MEDIA_ROOT": f"{tmp}/media",
            "HUEY_NAME": huey_name,
            "HUEY_IMMEDIATE": "false",
            "RATE_LIMIT_ENABLED": "false",
            "SECURE_SSL_REDIRECT": "false",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


class Variant:
    """Switches the outbox between the three variants (in this process only)."""

    def __init__(self) -> None:
        from core import outbox, tasks

        self.outbox = outbox
        self.publish = outbox.publish
        self.kicker = tasks.outbox_relay

    def use(self, name: str) -> None:
        self.outbox.publish = self.publish if name != "none" else (lambda *a, **kw: [])  # type: ignore[assignment]
        self.outbox.set_kicker(self.kicker if name == "rows+kick" else None)


def timed(call: Callable[[], Any], expect: int) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code == expect, (response.status_code, response.content[:300])
    return elapsed * 1000


def run(requests: int, rounds: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client, override_settings
    from huey.contrib.djhuey import HUEY

    from core import outbox
    from core.models import OutboxMessage

    client = Client()
    variant = Variant()
    times: dict[str, dict[str, list[float]]] = {
        op: {v: [] for v in VARIANTS} for op in ("register", "delete")
    }
    counter = 0
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        # Warm-up: templates, URL resolvers, prepared statements, the queue's connection.
        for name in VARIANTS:
            variant.use(name)
            for _ in range(10):
                counter += 1
                client.post(
                    "/api/v1/auth/register",
                    json.dumps({"email": f"warm{counter}@example.com", "password": PASSWORD}),
                    content_type="application/json",
                )
        for _round in range(rounds):
            for name in VARIANTS:
                variant.use(name)
                accounts = []
                for _ in range(requests):
                    counter += 1
                    email = f"user{counter}@example.com"
                    body = json.dumps({"email": email, "password": PASSWORD})
                    times["register"][name].append(
                        timed(
                            lambda body=body: client.post(
                                "/api/v1/auth/register", body, content_type="application/json"
                            ),
                            201,
                        )
                    )
                    accounts.append(email)
                # Sign each new account in (untimed; the login does not publish), then delete it, timed.
                from django.utils import timezone

                from accounts.models import User

                User.objects.filter(email__in=accounts).update(email_verified_at=timezone.now())
                tokens = []
                for email in accounts:
                    r = client.post(
                        "/api/v1/auth/token",
                        json.dumps({"login": email, "password": PASSWORD}),
                        content_type="application/json",
                    )
                    assert r.status_code == 200, r.content
                    tokens.append(r.json()["access"])
                for access in tokens:
                    times["delete"][name].append(
                        timed(
                            lambda access=access: client.delete(
                                "/api/v1/me",
                                json.dumps({"password": PASSWORD}),
                                content_type="application/json",
                                headers={"Authorization": f"Bearer {access}"},
                            ),
                            202,
                        )
                    )
        variant.use("rows+kick")
        pending = OutboxMessage.objects.filter(status="pending").count()
        started = time.perf_counter()
        delivered = 0
        while True:
            result = outbox.relay()
            delivered += result.delivered
            if not result.claimed:
                break
        relay_seconds = time.perf_counter() - started
    queued = HUEY.pending_count()
    HUEY.flush()
    return {
        "vendor": connection.vendor,
        "queue": type(HUEY.storage).__name__,
        "requests": requests,
        "rounds": rounds,
        "times": times,
        "relay": {"rows": pending, "delivered": delivered, "seconds": relay_seconds},
        "kicks_queued": queued,
    }


def publish_cost(iterations: int) -> dict[str, float]:
    """Median ms of a one-row UPDATE transaction, alone, with one mail owed, and with the kick on."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from core import mail

    user = User.objects.create_user(email="publish@example.com", password=None)
    variant = Variant()
    context = {"first_name": "Ada", "key": "k" * 120, "link": "https://app.example/verify?key=" + "k" * 120}

    def change(owe: bool) -> None:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(last_login=timezone.now())
            if owe:
                mail.enqueue(template="verify", to=user.email, subject_id=user.pk, context=context)

    samples: dict[str, list[float]] = {"change alone": [], "change + 1 row": [], "change + 1 row + kick": []}
    names = list(samples)
    for i in range(iterations):
        # Interleaved, in a rotating order: the three see the same load and the same table sizes.
        for name in names[i % 3 :] + names[: i % 3]:
            variant.use("rows+kick" if name.endswith("kick") else "rows")
            started = time.perf_counter()
            change(owe=name != "change alone")
            samples[name].append((time.perf_counter() - started) * 1000)
    variant.use("rows+kick")
    return {name: statistics.median(values) for name, values in samples.items()}


def report(data: dict[str, Any]) -> None:
    print(
        f"database {data['vendor']}, queue {data['queue']}, {data['rounds']} rounds × {data['requests']} "
        "requests per variant, in-process WSGI, MD5 hasher"
    )
    print("| operation | variant | p50 ms | p90 ms | mean ms | vs none (p50) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for op, by_variant in data["times"].items():
        base = statistics.median(by_variant["none"])
        for name in VARIANTS:
            values = sorted(by_variant[name])
            p50 = statistics.median(values)
            p90 = values[int(len(values) * 0.9)]
            label = "POST /auth/register" if op == "register" else "DELETE /me"
            delta = "" if name == "none" else f"{p50 - base:+.2f} ms ({(p50 / base - 1) * 100:+.0f} %)"
            print(f"| {label} | {name} | {p50:.2f} | {p90:.2f} | {statistics.mean(values):.2f} | {delta} |")
    relay = data["relay"]
    if relay["delivered"]:
        print(
            f"relay: {relay['delivered']} rows delivered ({relay['rows']} pending at start, the rest published "
            f"by their handlers) in {relay['seconds']:.2f} s "
            f"({relay['seconds'] / relay['delivered'] * 1000:.2f} ms a row, mails rendered and sent to memory); "
            f"relay tasks queued by the kicks: {data['kicks_queued']}"
        )
    publish = data["publish"]
    alone = publish["change alone"]
    print(
        "outbox alone, median of "
        + ", ".join(f"{name} {ms:.3f} ms" for name, ms in publish.items())
        + f": a row costs {publish['change + 1 row'] - alone:+.3f} ms, the kick "
        f"{publish['change + 1 row + kick'] - publish['change + 1 row']:+.3f} ms more"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--publish", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custodian-bench-outbox-") as tmp:
        load = os.getloadavg()[0]
        setup(tmp)
        data = run(args.requests, args.rounds)
        data["publish"] = publish_cost(args.publish)
        from huey.contrib.djhuey import HUEY

        HUEY.flush()  # the kicks of publish_cost (nobody consumes this queue)
        print(f"load average (1 min) at start {load:.2f}, at end {os.getloadavg()[0]:.2f}")
        report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
