from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_debug_off() -> None:
    r = _check(
        {
            "DEBUG": "false",
            "SECRET_KEY": "x" * 64 + "-not-a-dev-key-" + "y" * 20,
            "ALLOWED_HOSTS": "api.example.com",
            "PUBLIC_API_URL": "https://api.example.com",
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_embedded_default_uses_sqlite_wal_and_persistent_connections() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0]);"
        "print(s.DATABASES['default']['CONN_MAX_AGE'], s.HUEY['huey_class'], s.CACHES['default']['BACKEND'],"
        " s.EMAIL_BACKEND)"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert r.returncode == 0, r.stderr
    journal, rest = r.stdout.strip().splitlines()
    assert journal == "wal"
    assert rest.split() == [
        "600",
        "config.huey.SqliteHuey",
        "django.core.cache.backends.locmem.LocMemCache",
        "core.mail_backends.FileBackend",
    ]
