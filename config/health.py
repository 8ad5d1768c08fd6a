"""Liveness and readiness: /health answers if the process serves; /health/ready checks DB, cache and queue."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema

from core.errors import ServiceUnavailable
from core.schemas import errors

logger = logging.getLogger(__name__)
router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    checks: dict[str, str] = {}


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


@router.get("", operation_id="health_live", summary="Liveness", response={200: HealthOut})
def live(request: HttpRequest) -> dict[str, object]:
    return {"status": "ok", "checks": {}}


@router.get(
    "/ready",
    operation_id="health_ready",
    summary="Readiness: database, cache, queue",
    response={200: HealthOut, **errors(503)},
)
def ready(request: HttpRequest) -> dict[str, object]:
    checks = readiness()
    if not all(v == "ok" for v in checks.values()):
        raise ServiceUnavailable(details={"checks": checks})
    return {"status": "ok", "checks": checks}


def live_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "checks": {}})


def ready_view(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )
