"""Limit/offset pagination with a hard maximum page; lists always have a stable order."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from ninja import Schema
from pydantic import Field

MAX_LIMIT = 100


class PageParams(Schema):
    limit: int = Field(20, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)


def page(queryset: QuerySet[Any], params: PageParams) -> dict[str, Any]:
    items = list(queryset[params.offset : params.offset + params.limit])
    if params.offset == 0 and len(items) < params.limit:
        count = len(items)
    else:
        count = queryset.count()
    return {"items": items, "count": count, "limit": params.limit, "offset": params.offset}
