"""Loading many rows at once: COPY on PostgreSQL, bulk_create elsewhere.

Imports write tens of thousands of rows; on PostgreSQL `COPY … FROM STDIN` is several times
faster than multi-row INSERTs. Primary keys are taken from the table's sequence first so the
caller knows every new row's id (COPY returns none).
"""

import json
from collections.abc import Iterable, Sequence
from operator import attrgetter

from django.db import connection, models, transaction

BULK_BATCH = 2000


def _allocate_ids(model: type[models.Model], count: int) -> list[int]:
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        # One array value instead of `count` rows: far less to fetch and convert.
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
            [table, pk_column, count],
        )
        return cursor.fetchone()[0]


def _row_plan(model: type[models.Model], fields: Sequence[models.Field]):
    """Returns a function turning an instance into the tuple of database values (pk first).

    One C-level getter per row; only the fields the driver cannot take as they are get
    converted (JSON everywhere; dates and times on SQLite). get_db_prep_value for every cell
    would cost more than writing the rows.
    """
    getter = attrgetter("pk", *(f.attname for f in fields))
    postgres = connection.vendor == "postgresql"
    converters = []
    for position, field in enumerate(fields, start=1):
        if isinstance(field, models.JSONField):
            converters.append((position, _json_text(field)))
        elif not postgres and isinstance(field, (models.DateField, models.TimeField)):
            converters.append((position, _prep(field)))
    if not converters:
        return getter

    def row(obj) -> list:
        values = list(getter(obj))
        for position, convert in converters:
            values[position] = convert(values[position])
        return values

    return row


def _prep(field: models.Field):
    def convert(value: object) -> object:
        return field.get_db_prep_value(value, connection, prepared=False)

    return convert


@transaction.atomic
def insert_rows(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Inserts unsaved model instances and sets their primary keys.

    No signals, no save(): like bulk_create. auto_now/auto_now_add fields get their value as
    bulk_create would give it. Ids come from the sequence on PostgreSQL; on SQLite from the
    table's maximum, which is safe because imports write inside an IMMEDIATE transaction that
    holds SQLite's single write lock.
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
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [model._meta.pk.column, *(f.column for f in fields)]
    column_sql = ", ".join(qn(c) for c in columns)
    if connection.vendor == "postgresql":
        ids = _allocate_ids(model, len(objects))
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX({qn(columns[0])}), 0) FROM {table}")  # noqa: S608
            first = cursor.fetchone()[0] + 1
        ids = range(first, first + len(objects))
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
    row_of = _row_plan(model, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                for obj in objects:
                    copy.write_row(row_of(obj))
        else:
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({column_sql}) VALUES ({marks})"  # noqa: S608
            for batch in chunks(objects):
                cursor.executemany(sql, [row_of(obj) for obj in batch])
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
        row_of = _row_plan(model, columns)
        rows = [row_of(obj) for obj in objects]
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
