"""/health/ready reports the outbox backlog (both routes) and never fails readiness because of it."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from core.models import OutboxMessage
from tests.conftest import assert_error


def _backlog() -> None:
    now = timezone.now()
    # Undelivered for a day (the broker was down) and one that failed for good: still ready.
    OutboxMessage.objects.create(
        topic="mail.send", handler="core.mail.send", created_at=now - timedelta(days=1)
    )
    OutboxMessage.objects.create(
        topic="mail.send", handler="core.mail.send", created_at=now - timedelta(hours=1)
    )
    OutboxMessage.objects.create(topic="mail.send", handler="core.mail.send", status="failed", attempts=12)
    OutboxMessage.objects.create(topic="mail.send", handler="core.mail.send", status="delivered")


@pytest.mark.parametrize("path", ["/health/ready", "/api/v1/health/ready"])
def test_readiness_reports_the_backlog_and_stays_ready(db, path) -> None:
    _backlog()
    r = Client().get(path)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "ok"
    assert body["outbox"]["pending"] == 2 and body["outbox"]["failed"] == 1
    assert 86400 <= body["outbox"]["oldest_pending_seconds"] < 86400 + 60


@pytest.mark.parametrize("path", ["/health/ready", "/api/v1/health/ready"])
def test_an_empty_outbox_reports_zeroes(db, path) -> None:
    r = Client().get(path)
    assert r.json()["outbox"] == {"pending": 0, "failed": 0, "oldest_pending_seconds": 0}


def test_the_backlog_is_in_the_503_details_when_another_check_fails(db) -> None:
    _backlog()
    with mock.patch("config.health.cache.set", side_effect=ConnectionError("down")):
        api = Client().get("/api/v1/health/ready")
        plain = Client().get("/health/ready")
    body = assert_error(api, 503, "service_unavailable")
    assert body["details"]["outbox"]["pending"] == 2
    assert plain.status_code == 503 and plain.json()["outbox"]["failed"] == 1


def test_without_a_database_there_is_no_backlog_to_report(db) -> None:
    with mock.patch("config.health.connection.cursor", side_effect=ConnectionError("db down")):
        r = Client().get("/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "error" and r.json()["outbox"] is None


def test_a_backlog_query_that_fails_is_reported_as_missing_not_as_a_500(db) -> None:
    with mock.patch("config.health.outbox.backlog", side_effect=RuntimeError("boom")):
        r = Client().get("/api/v1/health/ready")
    assert r.status_code == 200 and r.json()["outbox"] is None


@pytest.mark.parametrize("path", ["/health/ready", "/api/v1/health/ready"])
def test_an_unreachable_queue_is_reported_but_stays_ready(db, path) -> None:
    from huey.contrib.djhuey import HUEY

    from config.huey import SqliteStorage

    _backlog()
    with mock.patch.object(HUEY, "storage", SqliteStorage("down", filename="/dev/null/huey.sqlite3")):
        r = Client().get(path)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "cache": "ok", "queue": "error"}
    assert body["outbox"]["pending"] == 2
