"""Helpers for tests that run the project in other processes (a relay, a consumer, a server) against the test
database: those tests use `django_db(transaction=True)`, so what they write is committed and visible."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """DATABASE_URL of the test database this process uses."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a manage.py child on the test database, with this process's keys (so Message-IDs
    and audit seals agree) and the embedded default's mailbox (files in var_dir/mail)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.pop("EMAIL_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url(),
        DB_CONN_MAX_AGE="0",
        VAR_DIR=str(var_dir),
        MEDIA_ROOT=settings.MEDIA_ROOT,
        SECRET_KEY=settings.SECRET_KEY,
        AUDIT_HMAC_KEY=settings.AUDIT_HMAC_KEY,
        FRONTEND_URL=settings.FRONTEND_URL,
        HUEY_IMMEDIATE="false",
        DEBUG="false",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{detail}")
