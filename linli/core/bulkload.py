"""Loading many rows at once: COPY on PostgreSQL, bulk_create elsewhere.

Imports write tens of thousands of rows; on PostgreSQL `COPY … FROM STDIN` is several times
faster than multi-row INSERTs. Primary keys are taken from the table's sequence first so the
caller knows every new row's id (COPY returns none).
"""

import json
from collections.abc import Iterable, Sequence
from operator import attrgetter

from django.db import connection, models

BULK_BATCH = 2000


def _allocate_ids(model: type[models.Model], count: int) -> list[int]:
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        # One array value instead of `count` rows: far less to fetch and convert.
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) "
            "FROM generate_series(1, %s)",
            [table, pk_column, count],
        )
        return cursor.fetchone()[0]


def insert_rows(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Inserts unsaved model instances and sets their primary keys.

    No signals, no save(): like bulk_create. auto_now/auto_now_add fields must be set by the
    caller (pre_save is applied here for them so behaviour matches bulk_create).
    """
    if not objects:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objects:
        for f in stamped:
            f.pre_save(obj, add=True)
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=BULK_BATCH)
        return
    for obj, pk in zip(objects, _allocate_ids(model, len(objects)), strict=True):
        obj.pk = pk
    # One C-level getter per row; psycopg adapts str, int, bool, date and None itself and only
    # JSON needs converting (get_db_prep_value per cell would cost more than the COPY).
    row_of = attrgetter("pk", *(f.attname for f in fields))
    json_at = [
        (position + 1, _json_text(f))
        for position, f in enumerate(fields)
        if isinstance(f, models.JSONField)
    ]
    columns = [model._meta.pk.column, *(f.column for f in fields)]
    table = connection.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(connection.ops.quote_name(c) for c in columns)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy,
    ):
        for obj in objects:
            row = row_of(obj)
            if json_at:
                row = list(row)
                for position, convert in json_at:
                    row[position] = convert(row[position])
            copy.write_row(row)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


def chunks(items: Sequence, size: int = BULK_BATCH) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def update_rows(
    model: type[models.Model], objects: Sequence[models.Model], fields: Sequence[str]
) -> None:
    """Writes `fields` of many saved instances in one set-based UPDATE.

    Django's bulk_update builds a CASE expression per row and field, which costs seconds for
    tens of thousands of rows; here the new values go into a temporary table (COPY on
    PostgreSQL, executemany elsewhere) and one `UPDATE … FROM` applies them (PostgreSQL, and
    SQLite since 3.33).
    """
    if not objects:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    pk = qn(meta.pk.column)
    temp = qn(f"linli_update_{meta.db_table}")
    types = [c.db_type(connection) for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {temp}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temp} ({pk} bigint PRIMARY KEY, "
            + ", ".join(f"{qn(c.column)} {t}" for c, t in zip(columns, types, strict=True))
            + ")"
        )
        rows = [
            [obj.pk, *(_db_value(c, getattr(obj, c.attname)) for c in columns)] for obj in objects
        ]
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {temp} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * (len(columns) + 1))
            # Table and column names come from model metadata, never from input.
            cursor.executemany(f"INSERT INTO {temp} VALUES ({marks})", rows)  # noqa: S608
        assignments = ", ".join(f"{qn(c.column)} = {temp}.{qn(c.column)}" for c in columns)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {temp} WHERE {table}.{pk} = {temp}.{pk}"  # noqa: S608
        )
        cursor.execute(f"DROP TABLE {temp}")


def _json_text(field: models.JSONField):
    def convert(value: object) -> str | None:
        return None if value is None else json.dumps(value, cls=field.encoder, ensure_ascii=False)

    return convert


def _db_value(field: models.Field, value: object) -> object:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, cls=field.encoder, ensure_ascii=False)
    return field.get_db_prep_value(value, connection, prepared=False)
