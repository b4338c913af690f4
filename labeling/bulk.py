"""Bulk inserts through COPY: rows stream into a staging table, then one INSERT … ON CONFLICT DO NOTHING.

Django's bulk_create builds one parameterized INSERT per batch, quoting every value client-side; for an
import of 1,000 prompts with 9 answers each that cost more than the rest of the import together.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, JSONField, Model
from django.utils import timezone


def copy_insert(model: type[Model], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows (field attnames to values), skipping any that hit a unique constraint; returns how
    many went in. A field a row leaves out takes its default (auto_now_add: now), as in save()."""
    if not rows:
        return 0
    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {f.attname: _default(f) for f in fields}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    staging = connection.ops.quote_name(f"staging_{table}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")  # left by a failed call on this connection
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} AS "
            f"SELECT {columns}, 0::bigint AS copy_position FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {staging} ({columns}, copy_position) FROM STDIN") as copy:
            for position, row in enumerate(rows):
                values = [
                    _db_value(f, row[f.attname] if f.attname in row else defaults[f.attname]())
                    for f in fields
                ]
                copy.write_row([*values, position])
        cursor.execute(  # in the order given, so ids follow it
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ORDER BY copy_position "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return inserted


def _default(field: Field) -> Callable[[], Any]:
    if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
        return timezone.now
    if field.has_default() or field.null:
        return field.get_default

    def missing() -> Any:
        raise ValueError(f"{field.model.__name__}.{field.attname} has no default: give a value")

    return missing


def _db_value(field: Field, value: Any) -> Any:
    return json.dumps(value) if isinstance(field, JSONField) and value is not None else value
