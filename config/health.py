"""Liveness and readiness: /health answers if the process serves; /health/ready checks DB, cache and queue, and
reports the outbox backlog.

Only the database and the cache fail readiness (503). Neither the queue nor the outbox backlog does: side
effects wait in the outbox while the broker or the consumers are down, and taking web processes out of
rotation would not deliver them; it would only stop the changes that owe them. An unreachable queue makes
the status "degraded" (still 200); operators alert on it and on the backlog (docs/deployment.md)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema

from core import outbox
from core.errors import ServiceUnavailable
from core.schemas import errors

logger = logging.getLogger(__name__)
router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    checks: dict[str, str] = {}


class OutboxBacklogOut(Schema):
    pending: int
    failed: int
    oldest_pending_seconds: int


class ReadyOut(Schema):
    status: str
    checks: dict[str, str]
    # Side effects owed by committed changes and not delivered yet; absent when the database is down.
    outbox: OutboxBacklogOut | None = None


def outbox_backlog() -> dict[str, int] | None:
    try:
        backlog = outbox.backlog()
    except Exception as exc:
        logger.error("readiness: outbox backlog unavailable: %s", exc)
        return None
    return {
        "pending": backlog.pending,
        "failed": backlog.failed,
        "oldest_pending_seconds": backlog.oldest_pending_seconds,
    }


# What a web process cannot serve without; the others are reported only.
REQUIRED = ("database", "cache")


def readiness() -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        logger.error("readiness: database unreachable: %s", exc)
        checks["database"] = "error"
    try:
        cache.set("health:probe", "1", 5)
        checks["cache"] = "ok" if cache.get("health:probe") == "1" else "error"
    except Exception as exc:
        logger.error("readiness: cache unreachable: %s", exc)
        checks["cache"] = "error"
    try:
        from huey.contrib.djhuey import HUEY

        HUEY.storage.queue_size()
        checks["queue"] = "ok"
    except Exception as exc:
        logger.error("readiness: queue unreachable: %s", exc)
        checks["queue"] = "error"
    return checks


def ready_enough(checks: dict[str, str]) -> bool:
    return all(checks[name] == "ok" for name in REQUIRED)


def status_of(checks: dict[str, str]) -> str:
    return "ok" if all(v == "ok" for v in checks.values()) else "degraded"


@router.get(
    "",
    operation_id="health_live",
    summary="Liveness",
    description="Answers 200 while the process serves requests; checks nothing else. No side effects.",
    response={200: HealthOut},
)
def live(request: HttpRequest) -> dict[str, object]:
    return {"status": "ok", "checks": {}}


@router.get(
    "/ready",
    operation_id="health_ready",
    summary="Readiness: database, cache, queue; the outbox backlog",
    description=(
        "Readiness of this instance. "
        "503 when the database or the cache does not answer (`details.checks` names it). An unreachable "
        "queue is reported (`checks.queue` = `error`, status `degraded`) but answers 200: side effects wait "
        "in the outbox until it is back. `outbox` reports side effects not delivered yet: rows pending, rows "
        "failed for good (they wait for a staff retry in the console), and the age of the oldest pending "
        "row in seconds. The backlog never fails readiness; alert on it."
    ),
    response={200: ReadyOut, **errors(503)},
)
def ready(request: HttpRequest) -> dict[str, object]:
    checks = readiness()
    backlog = outbox_backlog() if checks["database"] == "ok" else None
    if not ready_enough(checks):
        raise ServiceUnavailable(details={"checks": checks, "outbox": backlog})
    return {"status": status_of(checks), "checks": checks, "outbox": backlog}


def live_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "checks": {}})


def ready_view(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    backlog = outbox_backlog() if checks["database"] == "ok" else None
    ok = ready_enough(checks)
    return JsonResponse(
        {"status": status_of(checks) if ok else "unavailable", "checks": checks, "outbox": backlog},
        status=200 if ok else 503,
    )
