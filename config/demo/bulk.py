"""Bulk writing for demo data: one prepared INSERT per table and batch, with values converted for the
driver as the ORM would, minus the ORM's per-row and per-value work (model instances, get_db_prep_save)."""

from __future__ import annotations

import contextlib
import json
import operator
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin

# Rows per INSERT batch (and per batch of generated users).
BATCH = 5000

Row = dict[str, Any]


def _converter(model_field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """What turns a Python value (other than None, which passes as it is) into the value the database
    driver takes, as the field's get_db_prep_save would, without the ORM's per-value work; None where
    every value passes as it is."""
    target = model_field.target_field if isinstance(model_field, models.ForeignKey) else model_field
    if isinstance(target, models.UUIDField) and not connection.features.has_native_uuid_field:
        return operator.attrgetter("hex")
    if isinstance(target, models.DateTimeField):
        if connection.vendor == "sqlite":
            # Every generated moment is an aware UTC datetime (timezone.now() plus offsets), so cutting
            # off "+00:00" is what the backend's own adapter (make_naive in UTC, then str) does.
            return lambda value: value.isoformat(" ")[:-6]
        return connection.ops.adapt_datetimefield_value
    if isinstance(target, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(target, models.CharField) and target.choices and connection.vendor != "sqlite":
        # Enum members (RequestStatus.PENDING, …) go to the driver as the plain strings they stand for
        # (sqlite3 takes them as they are).
        return str
    if isinstance(target, models.JSONField):
        if connection.vendor == "sqlite" and target.encoder is None:
            return json.dumps  # the backend's adapt_json_value, one call less
        encoder = target.encoder
        return lambda value: connection.ops.adapt_json_value(value, encoder)
    return None


class Table:
    """One prepared INSERT for a model. Rows are dicts of attribute name → value; a field a row leaves out
    takes its (constant) default. Auto-increment ids are left to the database."""

    def __init__(self, model: type[models.Model]) -> None:
        self.fields = [
            f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, AutoFieldMixin))
        ]
        self.defaults = {
            f.attname: None if f.null and not f.has_default() else f.get_default() for f in self.fields
        }
        self.values = operator.itemgetter(*(f.attname for f in self.fields))
        self.converters = [(i, c) for i, c in enumerate(map(_converter, self.fields)) if c is not None]
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in self.fields)
        values = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608 (names)

    def params(self, rows: list[Row]) -> list[list[Any]]:
        """The rows as the driver takes them, in column order."""
        defaults, values, converters = self.defaults, self.values, self.converters
        params = []
        for row in rows:
            param = list(values({**defaults, **row}))
            for index, convert in converters:
                if param[index] is not None:
                    param[index] = convert(param[index])
            params.append(param)
        return params

    def insert(self, rows: list[Row]) -> int:
        params = self.params(rows)
        if params:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, params)
        return len(params)


@contextlib.contextmanager
def large_cache() -> Iterator[None]:
    """SQLite: a page cache of 256 MiB while writing in bulk (with the default 2 MiB, every random id inserted
    into a large index re-reads pages from the operating system)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")
