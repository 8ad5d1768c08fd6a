"""The ceiling the benchmark compares against: a bare django-ninja endpoint served by the same process, with
the same middleware, but none of our parser, auth, database or error handlers. Mounted by config/urls.py only
when BENCH_ENDPOINTS is on, as its own NinjaAPI without an OpenAPI document, so it never shows up in
/api/v1/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

api = NinjaAPI(title="bench", urls_namespace="bench", docs_url=None, openapi_url=None)


class BareOut(Schema):
    status: str


@api.get("/bare", response=BareOut, operation_id="bench_bare")
def bare(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok"}
