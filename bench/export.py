"""Benchmark: build the export of a user with 10^5 and 2×10^5 audit events; print rows/s and peak RSS.

    .venv/bin/python bench/export.py [--sizes 100000 200000]

Each size is seeded in one fresh process and exported in another, so the export process's peak RSS
(getrusage ru_maxrss) is comparable between sizes and does not include the seeding. Uses a throw-away SQLite
database per size (DATABASE_URL in the environment is used instead when it is set; it must be a database the
benchmark may migrate, empty and fill). Exits 1 if the peak RSS grows by more than 10% when the rows double.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(rows: int) -> None:
    _django()
    from django.core.management import call_command

    from accounts.models import User
    from audit.models import AuditEvent
    from gdpr.models import DataRequest

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password=None, first_name="Bench")
    batch = 5000
    for start in range(0, rows, batch):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor_type="user",
                actor_id=user.pk,
                subject_id=user.pk,
                action="auth.login",
                ip="203.0.113.7",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) bench",
                request_id=f"{i:032x}",
                details={"session_id": f"{i:08d}-0000-4000-8000-000000000000", "via": "password"},
            )
            for i in range(start, min(rows, start + batch))
        )
    request = DataRequest.objects.create(user=user, type="export", status="pending")
    print(request.pk)


def export(request_id: str) -> None:
    _django()
    from gdpr import services
    from gdpr.models import DataRequest

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    services.export_run(data_request_id=request_id)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    request = DataRequest.objects.select_related("export_file").get(pk=request_id)
    assert request.status == "ready", request.status
    print(
        json.dumps(
            {
                "seconds": seconds,
                "zip_bytes": request.export_file.size,
                "baseline_rss_kb": baseline,
                "peak_rss_kb": peak,
            }
        )
    )


def run(sizes: list[int]) -> int:
    results = []
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="custodian-bench-") as tmp:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "VAR_DIR": tmp,
                "MEDIA_ROOT": f"{tmp}/media",
                "HUEY_NAME": "custodian-bench",
            }
            env.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
            env.pop("REDIS_URL", None)
            me = [sys.executable, __file__]
            t0 = time.perf_counter()
            request_id = subprocess.run(
                [*me, "--seed", str(rows)], env=env, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            seeded = time.perf_counter() - t0
            out = subprocess.run(
                [*me, "--export", request_id], env=env, check=True, capture_output=True, text=True
            ).stdout.splitlines()[-1]
            result = {"rows": rows, "seed_seconds": seeded, **json.loads(out)}
            result["rows_per_second"] = rows / result["seconds"]
            results.append(result)
            print(
                f"{rows:>8} audit events: {result['seconds']:6.2f} s, {result['rows_per_second']:>9,.0f} rows/s, "
                f"peak RSS {result['peak_rss_kb'] / 1024:6.1f} MiB (at start {result['baseline_rss_kb'] / 1024:.1f} MiB), "
                f"ZIP {result['zip_bytes'] / 1e6:.1f} MB",
                flush=True,
            )
    growth = results[-1]["peak_rss_kb"] / results[0]["peak_rss_kb"] - 1
    print(f"peak RSS growth from {sizes[0]} to {sizes[-1]} rows: {growth * 100:+.1f}% (limit +10%)")
    return 0 if growth <= 0.10 else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000])
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        seed(args.seed)
        return 0
    if args.export:
        export(args.export)
        return 0
    return run(args.sizes)


if __name__ == "__main__":
    sys.exit(main())
