"""Loading many rows at once: COPY on PostgreSQL, executemany elsewhere.

Imports write tens of thousands of rows; on PostgreSQL `COPY … FROM STDIN` is several times
faster than multi-row INSERTs. Primary keys are taken from the table's sequence first so the
caller knows every new row's id (COPY returns none).

Two shapes of input: model instances (`insert_rows`, `update_rows`), for callers that already
hold them, and plain tuples of column values (`insert_tuples`, `update_tuples`), for imports
that never build a model instance per row (Model.__init__ costs more than writing the row).
"""

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from django.db import DatabaseError, connection, models, transaction

BULK_BATCH = 2000

log = logging.getLogger(__name__)

Row = Sequence[object]
# Turns one value into what the database driver takes.
Converter = Callable[[object], object]


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


def allocate_ids(model: type[models.Model], count: int) -> Sequence[int]:
    """Returns `count` new primary keys for `model`: from the sequence on PostgreSQL; on SQLite
    from the table's maximum, which is safe because imports write inside an IMMEDIATE
    transaction that holds SQLite's single write lock."""
    if count == 0:
        return []
    if connection.vendor == "postgresql":
        return _allocate_ids(model, count)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(MAX({qn(model._meta.pk.column)}), 0) FROM {qn(model._meta.db_table)}"  # noqa: S608
        )
        first = cursor.fetchone()[0] + 1
    return range(first, first + count)


def _row_plan(
    model: type[models.Model], fields: Sequence[models.Field[Any, Any]]
) -> Callable[[models.Model], Sequence[object]]:
    """Returns a function turning an instance into the tuple of database values (pk first).

    Only the values the driver cannot take as they are get converted (JSON everywhere, dates
    and times on SQLite): get_db_prep_value for every cell would cost more than writing the
    rows.
    """
    getter = attrgetter("pk", *(f.attname for f in fields))
    postgres = connection.vendor == "postgresql"
    converters: list[tuple[int, Converter]] = []
    for position, field in enumerate(fields, start=1):
        if isinstance(field, models.JSONField):
            converters.append((position, _json_text(field)))
        elif not postgres and isinstance(field, (models.DateField, models.TimeField)):
            converters.append((position, _prep(field)))
    if not converters:
        return getter

    def row(obj: models.Model) -> list[object]:
        values = list(getter(obj))
        for position, convert in converters:
            values[position] = convert(values[position])
        return values

    return row


def fields_of(model: type[models.Model], attnames: Sequence[str]) -> list[models.Field[Any, Any]]:
    """Returns the concrete fields named by attname ("dwelling_id", "name")."""
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in attnames]


def _concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """Returns the model's field called `name`. Raises TypeError for a relation's reverse side
    or a generic key, which have no column to write."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model._meta.label}.{name} has no column")
    return field


def _sql_type(field: models.Field[Any, Any]) -> str:
    """Returns the column's SQL type. Raises TypeError for a field with no column of its own."""
    sql_type = field.db_type(connection)
    if sql_type is None:
        raise TypeError(f"{field} has no column type")
    return sql_type


def _prep(field: models.Field[Any, Any]) -> Converter:
    def convert(value: object) -> object:
        return field.get_db_prep_value(value, connection, prepared=False)

    return convert


def stamp_value(model: type[models.Model], attname: str, value: object) -> object:
    """Returns `value` as the database stores it in that column (a datetime for auto_now
    columns is prepared once and repeated, not once per row)."""
    field = _concrete_field(model, attname)
    return field.get_db_prep_value(value, connection, prepared=False)


@transaction.atomic
def insert_rows(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Inserts unsaved model instances and sets their primary keys.

    No signals, no save(): like bulk_create. auto_now/auto_now_add fields get their value as
    bulk_create would give it.
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
    ids = allocate_ids(model, len(objects))
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
    row_of = _row_plan(model, fields)
    columns = [model._meta.pk.column, *(f.column for f in fields)]
    _write(model._meta.db_table, columns, map(row_of, objects))
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias


@transaction.atomic
def insert_tuples(model: type[models.Model], attnames: Sequence[str], rows: Iterable[Row]) -> None:
    """Inserts rows given as tuples in `attnames` order (values as the driver takes them, JSON as
    its text). Columns left out take their database default (the primary key its
    sequence)."""
    columns = [field.column for field in fields_of(model, attnames)]
    _write(model._meta.db_table, columns, rows)


def _write(table: str, columns: Sequence[str], rows: Iterable[Row]) -> None:
    qn = connection.ops.quote_name
    column_sql = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {qn(table)} ({column_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {qn(table)} ({column_sql}) VALUES ({marks})"  # noqa: S608
            for batch in chunks(list(rows)):
                cursor.executemany(sql, batch)


def chunks(items: Sequence, size: int = BULK_BATCH) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def update_rows(
    model: type[models.Model], objects: Sequence[models.Model], fields: Sequence[str]
) -> None:
    """Writes `fields` of many saved instances in one set-based UPDATE (see update_tuples)."""
    if not objects:
        return
    columns = [_concrete_field(model, name) for name in fields]
    row_of = _row_plan(model, columns)
    update_tuples(model, [c.attname for c in columns], [row_of(obj) for obj in objects])


def update_tuples(model: type[models.Model], attnames: Sequence[str], rows: Sequence[Row]) -> None:
    """Writes columns of many saved rows in one set-based UPDATE. Each row is (pk, *values in
    `attnames` order), values as the driver takes them.

    Django's bulk_update builds a CASE expression per row and field, which costs seconds for
    tens of thousands of rows; here the new values go into a temporary table (COPY on
    PostgreSQL, executemany elsewhere) and one `UPDATE … FROM` applies them (PostgreSQL, and
    SQLite since 3.33).
    """
    if not rows:
        return
    meta = model._meta
    columns = fields_of(model, attnames)
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    pk = qn(meta.pk.column)
    temp_name = f"linli_update_{meta.db_table}"
    temp = qn(temp_name)
    _temporary_table(
        temp_name,
        [(meta.pk.column, "bigint PRIMARY KEY")] + [(c.column, _sql_type(c)) for c in columns],
    )
    _write(temp_name, [meta.pk.column, *(c.column for c in columns)], rows)
    with connection.cursor() as cursor:
        assignments = ", ".join(f"{qn(c.column)} = {temp}.{qn(c.column)}" for c in columns)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {temp} WHERE {table}.{pk} = {temp}.{pk}"  # noqa: S608
        )
        cursor.execute(f"DROP TABLE {temp}")


def _json_text(field: models.JSONField[Any, Any]) -> Converter:
    def convert(value: object) -> str | None:
        return None if value is None else json.dumps(value, cls=field.encoder, ensure_ascii=False)

    return convert


class StagedRows:
    """Rows loaded ahead of the transaction that completes them, then inserted by key.

    On PostgreSQL the rows are COPYed at once, in the binary format, into a temporary table
    with no index, constraint or default (the cheapest load there is: the server parses no
    text, and text and JSON wait as text); `insert` then COPYs the columns decided later, one
    row per key, and moves everything into the model's table with one INSERT … SELECT joined
    on the key. Elsewhere the rows wait in memory and `insert` writes them directly. Values
    are as the driver takes them, JSON as its text. Call `discard` when the import ends
    either way.
    """

    def __init__(
        self,
        model: type[models.Model],
        attnames: Sequence[str],
        *,
        key: str,
        rows: Iterable[Row],
        constants: dict[str, Any] | None = None,
    ) -> None:
        """`constants` are columns every row shares (the batch): written by the INSERT, not
        staged row by row."""
        self.model, self.attnames, self.key = model, tuple(attnames), key
        self.constants = dict(constants or {})
        self._position = self.attnames.index(key)
        self._rows: list[Row] = []
        self._table = ""
        self._count = 0
        if connection.vendor != "postgresql":
            self._rows = list(rows)
            return
        # A name of its own: two imports must never meet in one table, even on one backend.
        self._table = f"linli_stage_{model._meta.db_table}_{uuid.uuid4().hex[:12]}"
        self._count = _binary_copy(self._table, fields_of(model, self.attnames), rows)

    def insert(self, attnames: Sequence[str], rows: Iterable[Row]) -> None:
        """Inserts every staged row completed with `attnames`; `rows` are (key, *values), one
        for every staged key."""
        if connection.vendor != "postgresql":
            completed = {row[0]: row[1:] for row in rows}
            position = self._position
            constants = tuple(self.constants.values())
            insert_tuples(
                self.model,
                (*self.attnames, *attnames, *self.constants),
                [(*row, *completed[row[position]], *constants) for row in self._rows],
            )
            self._rows = []
            return
        qn = connection.ops.quote_name
        key_field, *fields = fields_of(self.model, (self.key, *attnames))
        completion = f"{self._table}_completion"
        _binary_copy(completion, [key_field, *fields], rows)
        with connection.cursor() as cursor:
            # Temporary tables have no statistics: without them the planner guesses a join
            # of millions of rows and compiles it (JIT) for longer than it takes to run.
            cursor.execute(f"ANALYZE {qn(self._table)}, {qn(completion)}")
        staged = fields_of(self.model, self.attnames)
        shared = fields_of(self.model, list(self.constants))
        columns = ", ".join(qn(f.column) for f in (*staged, *fields, *shared))
        selected = ", ".join(
            [f"s.{qn(f.column)}{_cast(f)}" for f in staged]
            + [f"c.{qn(f.column)}{_cast(f)}" for f in fields]
            + ["%s"] * len(shared)
        )
        key = qn(key_field.column)
        with connection.cursor() as cursor:
            # In key order, so ids follow the file's rows as a direct insert would.
            cursor.execute(
                f"INSERT INTO {qn(self.model._meta.db_table)} ({columns}) "  # noqa: S608
                f"SELECT {selected} FROM {qn(self._table)} s "
                f"JOIN {qn(completion)} c ON c.{key} = s.{key} ORDER BY s.{key}",
                list(self.constants.values()),
            )
            inserted = cursor.rowcount
            cursor.execute(f"DROP TABLE {qn(completion)}, {qn(self._table)}")
        self._table = ""
        if inserted != self._count:
            # A staged row without its completion would vanish from the join: refuse the
            # whole transaction rather than commit it short.
            raise RuntimeError(f"staged {self._count} rows but inserted {inserted}")

    def discard(self) -> None:
        """Drops the staging table if `insert` did not (PostgreSQL), or forgets the rows. Never
        raises: it runs when the import has ended, committed or not."""
        self._rows = []
        if not self._table:
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(self._table)}")
        except DatabaseError:
            # A broken connection takes its temporary tables with it.
            log.warning("could not drop staging table %s", self._table)
        self._table = ""


_AS_TEXT = (models.CharField, models.TextField, models.JSONField)


def _staging_type(field: models.Field[Any, Any]) -> str:
    # A foreign key's db_type is its target's key type (bigint).
    return "text" if isinstance(field, _AS_TEXT) else _sql_type(field)


def _cast(field: models.Field[Any, Any]) -> str:
    # Text goes into varchar columns by assignment; JSON needs its cast.
    return "::jsonb" if isinstance(field, models.JSONField) else ""


# The Python types a column takes. psycopg's binary dumpers coerce whatever they are given
# ("x" into a boolean is true, 2**40 into an integer is 0), so values are checked first.
def _python_types(field: models.Field[Any, Any]) -> tuple[type, ...]:
    if isinstance(field, _AS_TEXT):
        return (str,)
    if isinstance(field, models.BooleanField):
        return (bool,)
    if isinstance(field, (models.IntegerField, models.AutoField, models.ForeignKey)):
        return (int,)
    if isinstance(field, models.DateTimeField):
        return (datetime,)
    if isinstance(field, models.DateField):
        return (date,)
    if isinstance(field, models.FloatField):
        return (float, int)
    return (object,)


# Checking every value would cost a third of the load; a slip (a swapped column, a new
# branch) shows on the first rows of its kind, and tests check each kind of row in full.
_CHECKED_ROWS = 500


def check_rows(model: type[models.Model], attnames: Sequence[str], rows: Iterable[Row]) -> None:
    """Raises TypeError when any value of `rows` is not of its column's Python type (for
    tests of the code that builds rows)."""
    expected = [_python_types(f) for f in fields_of(model, attnames)]
    for row in rows:
        _check_row(attnames, expected, row)


def _check_row(names: Sequence[str], expected: Sequence[tuple[type, ...]], row: Row) -> None:
    for name, types, value in zip(names, expected, row, strict=True):
        if value is None:
            continue
        wrong = not isinstance(value, types)
        # bool is an int and datetime a date to isinstance, not to the database.
        wrong = wrong or (isinstance(value, bool) and bool not in types)
        wrong = wrong or (isinstance(value, datetime) and datetime not in types)
        if wrong:
            raise TypeError(f"{name}: {type(value).__name__} where {types[0].__name__} is due")


def _binary_copy(table: str, fields: Sequence[models.Field[Any, Any]], rows: Iterable[Row]) -> int:
    """Creates the temporary table `table` with a column per field and COPYs `rows` into it in
    PostgreSQL's binary format. Returns how many rows."""
    qn = connection.ops.quote_name
    types = [_staging_type(f) for f in fields]
    _temporary_table(table, [(f.column, t) for f, t in zip(fields, types, strict=True)])
    count = 0
    names = [f.column for f in fields]
    expected = [_python_types(f) for f in fields]
    with connection.cursor() as cursor:
        column_sql = ", ".join(qn(f.column) for f in fields)
        with cursor.copy(f"COPY {qn(table)} ({column_sql}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                if count < _CHECKED_ROWS:
                    _check_row(names, expected, row)
                copy.write_row(row)
                count += 1
    return count


def _temporary_table(name: str, columns: Sequence[tuple[str, str]]) -> None:
    """(Re)creates a temporary table of (column, SQL type) with no index but what a type
    says (column and table names come from model metadata, never from input)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {qn(name)}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {qn(name)} ("
            + ", ".join(f"{qn(column)} {sql_type}" for column, sql_type in columns)
            + ")"
        )
