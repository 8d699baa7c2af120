"""Bulk loading: the staged path (binary COPY into a temporary table, then INSERT … SELECT on
PostgreSQL; rows in memory elsewhere) and tuple updates, on whichever database runs the tests."""

import pytest
from django.db import transaction

from linli.areas.models import Area, AreaLevel
from linli.core.bulkload import StagedRows, allocate_ids, check_rows, update_tuples


@pytest.mark.django_db(transaction=True)
def test_staged_rows_are_completed_by_key_with_the_shared_columns():
    """Rows staged before the transaction get the columns decided later matched by key (not
    by position), the shared columns on every row, JSON as its text; discard leaves nothing."""
    staged = StagedRows(
        Area,
        ("path", "name", "aliases"),
        key="path",
        rows=[("9001", "甲", '["一"]'), ("9002", "乙", "[]")],
        constants={"level": AreaLevel.COMPOUND, "code": ""},
    )
    with transaction.atomic():
        staged.insert(("floor",), [("9002", 2), ("9001", None)])
    staged.discard()
    first, second = Area.objects.filter(path__in=["9001", "9002"]).order_by("path")
    assert (first.name, first.floor, first.aliases, first.level) == ("甲", None, ["一"], "compound")
    assert (second.name, second.floor, second.aliases, second.code) == ("乙", 2, [], "")


@pytest.mark.django_db(transaction=True)
def test_a_failed_transaction_leaves_no_staged_row_behind():
    staged = StagedRows(
        Area,
        ("path", "name"),
        key="path",
        rows=[("9101", "丙")],
        constants={"code": "", "aliases": "[]"},
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        staged.insert(("level",), [("9101", AreaLevel.COMPOUND)])
        raise RuntimeError("after the insert")
    staged.discard()
    assert not Area.objects.filter(path="9101").exists()


@pytest.mark.django_db
def test_update_tuples_writes_only_the_given_rows_and_columns():
    ids = list(allocate_ids(Area, 2))
    Area.objects.bulk_create(
        [
            Area(pk=ids[0], path="9201", name="丁", level=AreaLevel.COMPOUND),
            Area(pk=ids[1], path="9202", name="戊", level=AreaLevel.COMPOUND),
        ]
    )
    update_tuples(Area, ("name", "floor"), [(ids[0], "丁丁", 3)])
    assert list(Area.objects.filter(pk__in=ids).order_by("path").values_list("name", "floor")) == [
        ("丁丁", 3),
        ("戊", None),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_staged_row_left_without_its_completion_fails_the_insert():
    """An inner join would drop it silently; the insert refuses instead (and the transaction
    rolls back)."""
    staged = StagedRows(
        Area,
        ("path", "name"),
        key="path",
        rows=[("9301", "己"), ("9302", "庚")],
        constants={"code": "", "aliases": "[]", "level": AreaLevel.COMPOUND},
    )
    with pytest.raises((KeyError, RuntimeError)), transaction.atomic():
        staged.insert(("floor",), [("9301", 1)])
    staged.discard()
    assert not Area.objects.filter(path__in=["9301", "9302"]).exists()


def test_row_types_are_checked_against_the_columns():
    """psycopg's binary dumpers would coerce a wrong value silently ("x" into a boolean is
    true): the rows are checked instead. None is always allowed."""
    from linli.registry.models import SourceRecord

    columns = ("row_number", "accepted", "birth_date", "name")
    check_rows(SourceRecord, columns, [(1, True, None, "张三")])
    for wrong in ((1, "yes", None, "张三"), (True, True, None, "张三"), (1, True, None, 5)):
        with pytest.raises(TypeError):
            check_rows(SourceRecord, columns, [wrong])
