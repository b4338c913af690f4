"""Bulk inserts through COPY: rows stream into a staging table, then one INSERT … ON CONFLICT DO NOTHING.

Django's bulk_create builds one parameterized INSERT per batch, quoting every value client-side; for an
import of 1,000 prompts with 9 answers each that cost more than the rest of the import together.
"""

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, JSONField, Model


def copy_insert(objects: Sequence[Model]) -> int:
    """Insert unsaved model instances, skipping any that hit a unique constraint; returns how many went in.

    Field defaults and auto_now_add apply as in save(); primary keys are not set on the instances.
    """
    if not objects:
        return 0
    model = type(objects[0])
    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    staging = connection.ops.quote_name(f"staging_{table}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")  # left by a failed call on this connection
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} AS "
            f"SELECT {columns}, 0::bigint AS copy_position FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {staging} ({columns}, copy_position) FROM STDIN") as copy:
            for position, obj in enumerate(objects):
                copy.write_row([*(_value(f, f.pre_save(obj, add=True)) for f in fields), position])
        cursor.execute(  # in the order given, so ids follow it
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ORDER BY copy_position "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return inserted


def _value(field: Field, value: Any) -> Any:
    return json.dumps(value) if isinstance(field, JSONField) and value is not None else value
