"""Benchmark: build the export of a user with 10^5 and 10^6 audit events; print rows/s, peak RSS and ZIP size
per zlib level tried.

    .venv/bin/python bench/export.py [--sizes 100000 1000000] [--levels 1 6]

Each size is seeded in one fresh process and exported in another, so the export process's peak RSS
(getrusage ru_maxrss) is comparable between sizes and does not include the seeding. Uses a throw-away SQLite
database per size (DATABASE_URL in the environment is used instead when it is set; it must be a database the
benchmark may migrate, empty and fill). Exits 1 if the peak RSS grows by more than 10% from the smallest to the largest size.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(rows: int) -> None:
    """A user with `rows` audit events (one in a hundred done by them about another user, so both export
    streams are merged), inserted without the ORM: COPY on PostgreSQL, executemany on SQLite."""
    _django()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from audit.models import AuditEvent

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password=None, first_name="Bench")
    other = User.objects.create_user(email="other@example.com", password=None, first_name="Other")
    # The columns record() writes (an unsealed, never redacted event), from the model.
    fields = [
        f.name for f in AuditEvent._meta.concrete_fields if not f.primary_key and f.name != "redacted_at"
    ]
    prep = {f: AuditEvent._meta.get_field(f) for f in fields}

    def db(field: str, value: object) -> object:
        return prep[field].get_db_prep_save(value, connection)

    start = timezone.now() - timedelta(days=365)
    fixed = {
        f: db(f, v) for f, v in [("actor_type", "user"), ("action", "auth.login"), ("ip", "203.0.113.7")]
    }
    fixed |= {"user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench", "row_hash": "", "redaction_hash": ""}
    fixed |= {"prev_hash": "", "hash": ""}
    me, them = db("actor_id", user.pk), db("subject_id", other.pk)

    def row(i: int) -> tuple[object, ...]:
        values = fixed | {
            "created_at": db("created_at", start + timedelta(seconds=i * 3, microseconds=i % 1000)),
            "actor_id": me,
            "subject_id": them if i % 100 == 99 else me,
            "request_id": f"{i:032x}",
            "details": json.dumps({"session_id": f"{i:08d}-0000-4000-8000-000000000000", "via": "password"}),
        }
        return tuple(values[f] for f in fields)

    table = AuditEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(fields)}) FROM STDIN") as copy:
                for i in range(rows):
                    copy.write_row(row(i))
        else:
            sql = f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({', '.join(['%s'] * len(fields))})"
            for first in range(0, rows, 50_000):
                cursor.executemany(sql, [row(i) for i in range(first, min(rows, first + 50_000))])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(user.pk)


def export(user_id: str) -> None:
    _django()
    from gdpr import services
    from gdpr.models import DataRequest

    request_id = DataRequest.objects.create(user_id=user_id, type="export", status="pending").pk
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    services.export_run(data_request_id=request_id)
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
                "zlib": zlib_levels(request.export_file.storage_path),  # after the peak was taken
            }
        )
    )


def zlib_levels(storage_path: str, sample: int = 64 << 20) -> dict[int, list[float]]:
    """Deflate alone, per level, over the first `sample` bytes of the export's audit_events.jsonl: seconds
    and compressed fraction. Streaming (1 MiB reads), so it adds nothing to memory."""
    import zipfile
    import zlib

    from django.core.files.storage import default_storage

    table = {}
    for level in (1, 3, 6, 9):
        with (
            default_storage.open(storage_path, "rb") as fh,
            zipfile.ZipFile(fh) as archive,
            archive.open("audit_events.jsonl") as member,
        ):
            compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
            read = written = 0
            spent = 0.0
            while read < sample and (block := member.read(1 << 20)):
                started = time.perf_counter()
                written += len(compressor.compress(block))
                spent += time.perf_counter() - started
                read += len(block)
            written += len(compressor.flush())
        table[level] = [spent, written / max(1, read), read]
    return table


def run(sizes: list[int], levels: list[int]) -> int:
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
            user_id = subprocess.run(
                [*me, "--seed", str(rows)], env=env, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            seeded = time.perf_counter() - t0
            print(
                f"{rows:>9} audit events seeded in {seeded:.1f} s ({env['DATABASE_URL'].split(':')[0]})",
                flush=True,
            )
            for level in levels:
                out = subprocess.run(
                    [*me, "--export", user_id],
                    env={**env, "GDPR_EXPORT_COMPRESSLEVEL": str(level)},
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()[-1]
                result = {"rows": rows, "level": level, **json.loads(out), "load": _load()}
                result["rows_per_second"] = rows / result["seconds"]
                results.append(result)
                print(_line(result), flush=True)
    print(
        f"\n{'rows':>9} {'level':>5} {'seconds':>8} {'rows/s':>9} {'peak RSS MiB':>12} {'ZIP MB':>7}  loadavg"
    )
    for result in results:
        print(_line(result))
    print(f"\ndeflate alone over audit_events.jsonl ({rows_label(results[-1])})")
    print(f"{'level':>5} {'MB/s':>7} {'size':>6}")
    for level, (spent, ratio, read) in sorted(results[-1]["zlib"].items(), key=lambda kv: int(kv[0])):
        print(f"{level:>5} {read / 1e6 / spent:>7.0f} {ratio * 100:>5.1f}%")
    first = [r for r in results if r["level"] == levels[0]]
    growth = first[-1]["peak_rss_kb"] / first[0]["peak_rss_kb"] - 1
    print(f"peak RSS growth from {sizes[0]} to {sizes[-1]} rows: {growth * 100:+.1f}% (limit +10%)")
    return 0 if growth <= 0.10 else 1


def rows_label(result: dict[str, Any]) -> str:
    read = next(iter(result["zlib"].values()))[2]
    return f"{read / 1e6:.0f} MB of the {result['rows']}-row export, loadavg {_load()}"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['rows']:>9} {r['level']:>5} {r['seconds']:>8.2f} {r['rows_per_second']:>9,.0f} "
        f"{r['peak_rss_kb'] / 1024:>12.1f} {r['zip_bytes'] / 1e6:>7.1f}  {r['load']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--levels", type=int, nargs="+", default=[1], help="zlib levels to try (each size)")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        seed(args.seed)
        return 0
    if args.export:
        export(args.export)
        return 0
    return run(args.sizes, args.levels)


if __name__ == "__main__":
    sys.exit(main())
