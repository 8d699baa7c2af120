"""Issue 11: department files that cost memory, carry control characters, markup or formulas.

Each test here failed before its fix (findings 1, 5, 6 and part of 9 of issue 11).
"""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from linli.areas.models import Area
from linli.core.errors import error_in_both_languages
from linli.registry.importing import pipeline, readers
from linli.registry.importing.normalise import normalise_row
from linli.registry.importing.readers import UnreadableFile, read_table
from linli.registry.importing.workbooks import shared_strings_workbook
from linli.registry.models import BatchStatus, ImportBatch, Person, SourceRecord
from linli.registry.services import imports as import_services

HEADER = "姓名,公民身份号码,联系电话,现住址,户号\n"


def people_csv(count: int) -> bytes:
    lines = [HEADER] + [
        f"张{n:03d},,1380000{n:04d},翠华小区3号楼2单元{n}室,H{n}\n" for n in range(count)
    ]
    return "".join(lines).encode()


def upload(world, data: bytes, name: str):
    return import_services.stage_upload(
        area=world.a.community,
        source_name=name,
        source_kind="household_registration",
        file_name=name,
        data=data,
        by=world.steward_a,
    )


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(root.iterdir()) if root.exists() else []


# --- finding 1: memory ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_over_the_cell_limit_is_refused_in_the_readers_language_and_nothing_stored(
    world, settings, kind
):
    settings.LINLI_IMPORT_MAX_CELLS = 100
    if kind == "csv":
        data, name = people_csv(30), "big.csv"  # 30 rows × 5 cells
    else:
        strings = ["姓名", "联系电话", "张三", "13800001111"]
        data = shared_strings_workbook(strings, [[0, 1], *[[2, 3]] * 60])
        name = "big.xlsx"
    batches = ImportBatch.objects.count()
    with pytest.raises(pipeline.ImportRefused) as refused:
        upload(world, data, name)
    message = " ".join(refused.value.messages)
    assert "100" in message and "单元格" in message and "cells" not in message, message
    with translation.override("en"):
        assert "cells" in " ".join(refused.value.messages)
    # Where no reader's language applies (the link command) it is said in both.
    assert "cells" in error_in_both_languages(refused.value)
    assert ImportBatch.objects.count() == batches
    assert stored_files(settings) == []


def test_the_probes_workbook_is_refused_before_it_is_expanded(monkeypatch):
    """1,000 rows × 24 shared-string cells (the probe's file scaled down) under a limit of
    10,000 cells: refused from the zip's counts, the workbook never opened."""
    strings = ["张三", "翠华小区1号楼1单元101室", "户主", "13812345678", "姓名"]
    rows = [[4] * 24, *[[n % 4 for n in range(24)]] * 1000]
    data = shared_strings_workbook(strings, rows, references=False)

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(readers.openpyxl, "load_workbook", never)
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "probe.xlsx", cell_limit=10_000)
    assert refused.value.code == "too_many_cells"


def test_a_shared_strings_bomb_is_refused_before_it_is_expanded(monkeypatch):
    monkeypatch.setattr(readers, "MAX_SHARED_STRINGS", 100)
    monkeypatch.setattr(readers.openpyxl, "load_workbook", pytest.fail)
    data = shared_strings_workbook([f"张{n}" for n in range(101)], [[0], [1]])
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "bomb.xlsx")
    assert refused.value.code == "too_large"


def test_many_strings_and_many_numbers_together_are_refused(monkeypatch):
    """300 distinct strings and 400 numbers pass a limit of 1,000 cells each on its own,
    but together would cost more than 1,000 plain cells: refused before reading."""
    monkeypatch.setattr(readers.openpyxl, "load_workbook", pytest.fail)
    strings = ["姓名", "电话", *[f"张{n}" for n in range(300)]]
    rows = [[0, 1], *[[n + 2, 13800000000.0 + n] for n in range(300)], *[[0.5, 1.5]] * 50]
    data = shared_strings_workbook(strings, rows)
    with pytest.raises(UnreadableFile) as refused:
        read_table(data, "mixed.xlsx", cell_limit=1_000)
    assert refused.value.code == "too_large"
    monkeypatch.undo()
    assert read_table(data, "mixed.xlsx", cell_limit=2_000).total_rows == 350


def test_an_absurd_dimension_is_not_trusted():
    """<dimension ref="A1:XFD1048576"> on a two-cell sheet: two cells are read, not 17 billion."""
    data = shared_strings_workbook(["姓名", "张三"], [[0], [1]], dimension="A1:XFD1048576")
    table = read_table(data, "x.xlsx")
    assert table.headers == ["姓名"] and table.rows == [["张三"]]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_upload_keeps_a_sample_and_the_preview_never_reads_the_file_again(
    world, monkeypatch, kind
):
    if kind == "csv":
        data = people_csv(1200)
    else:
        strings = ["姓名", "联系电话", *[f"张{n}" for n in range(1200)]]
        data = shared_strings_workbook(strings, [[0, 1], *[[n + 2, 1] for n in range(1200)]])
    batch = upload(world, data, f"名单.{kind}")
    assert batch.total_rows == 1200

    def no_reading(*args, **kwargs):
        raise AssertionError("the preview read the file again")

    monkeypatch.setattr(pipeline, "read_table", no_reading)
    monkeypatch.setattr(readers, "read_table", no_reading)
    monkeypatch.setattr(pipeline, "read_batch_file", no_reading)
    preview = pipeline.preview_batch(batch)
    assert preview.total == 1200 and preview.checked == pipeline.SAMPLE_ROWS
    assert preview.sampled and len(preview.rows) == 20
    assert [row.row_number for row in preview.rows] == list(range(1, 21))


def test_the_preview_page_reads_the_sample(world, client_for, monkeypatch):
    client = client_for(world.steward_a)
    data = io.BytesIO(people_csv(1500))
    data.name = "名单.csv"
    response = client.post(
        reverse("registry:imports"),
        {
            "area": world.a.community.pk,
            "source_name": "户籍科",
            "source_kind": "household_registration",
            "file": data,
        },
    )
    assert response.status_code == 302
    monkeypatch.setattr(pipeline, "read_batch_file", pytest.fail)
    monkeypatch.setattr(pipeline, "read_table", pytest.fail)
    page = client.get(response["Location"]).content.decode()
    assert "1500" in page and "1000" in page


def test_the_worker_reads_the_whole_file_and_discards_the_sample(world, settings):
    batch = upload(world, people_csv(1200), "名单.csv")
    assert len(stored_files(settings)) == 2  # the file and its sample, both sealed
    batch.status = BatchStatus.QUEUED
    batch.save(update_fields=["status"])
    batch = pipeline.run_batch(batch)
    assert batch.status == BatchStatus.COMMITTED, batch.error
    assert batch.accepted_rows == 1200
    assert stored_files(settings) == []


# --- finding 6: NUL bytes and control characters ------------------------------------------------

DIRTY = {
    "name": "张\x00三\x07",
    "address": "翠华小区\x00\x1b3号楼2单元501室",
    "household": "H\x00-0\x0b42",
}


def dirty_csv() -> bytes:
    return (
        "姓名,联系电话,现住址,户号\n"
        f"{DIRTY['name']},13800001111,{DIRTY['address']},{DIRTY['household']}\n"
        "李\x00四,13800002222,翠华\x00小区3号楼2单元502室,H\x00043\n"
    ).encode()


def dirty_xlsx() -> bytes:
    # Excel writes characters XML cannot hold as _xHHHH_.
    strings = [
        "姓名",
        "现住址",
        "户号",
        "张_x0000_三_x0007_",
        "翠华小区_x0000__x001B_3号楼2单元501室",
        "H_x0000_-0_x000B_42",
        "李_x0000_四",
        "翠华_x0000_小区3号楼2单元502室",
        "H_x0000_043",
    ]
    return shared_strings_workbook(strings, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_control_characters_are_removed_and_never_fail_a_file(world, kind):
    data = dirty_csv() if kind == "csv" else dirty_xlsx()
    compounds = set(Area.objects.filter(name__contains="翠华").values_list("name", flat=True))
    batch = upload(world, data, f"dirty.{kind}")
    batch.mapping = {**batch.mapping, "户号": "household_number"}
    batch.status = BatchStatus.QUEUED
    batch.save(update_fields=["mapping", "status"])
    batch = pipeline.run_batch(batch)
    assert batch.status == BatchStatus.COMMITTED, batch.error
    assert batch.accepted_rows == 2
    people = Person.objects.filter(records__batch=batch).distinct()
    assert sorted(p.name for p in people) == ["张三", "李四"]
    for text in [
        *Area.objects.values_list("name", flat=True),
        *SourceRecord.objects.filter(batch=batch).values_list("household_number", flat=True),
        *SourceRecord.objects.filter(batch=batch).values_list("address_text", flat=True),
        *SourceRecord.objects.filter(batch=batch).values_list("name", flat=True),
    ]:
        assert text.isprintable(), repr(text)
    new_compounds = (
        set(Area.objects.filter(name__contains="翠华").values_list("name", flat=True)) - compounds
    )
    assert all("\x00" not in name for name in new_compounds)


def test_cells_keep_line_breaks_but_lose_other_controls():
    table = read_table('姓名,现住址\n张三,"翠华小区\n3号楼\x00\x01"\n'.encode(), "x.csv")
    assert table.rows == [["张三", "翠华小区\n3号楼"]]


# --- finding 9: markup in names, refusals in both languages -----------------------------------


@pytest.mark.parametrize("raw", ["<script>alert(1)</script>", "<b>张三</b>", "张三&amp;", '"张三"'])
def test_a_name_with_markup_is_not_a_name(raw):
    errors = normalise_row(1, {"name": raw})
    assert isinstance(errors, list) and errors[0].code == "name_markup"


@pytest.mark.parametrize("raw", ["阿依古丽·买买提", "Mary Jane", "O'Brien"])
def test_real_names_with_dots_spaces_and_apostrophes_are_kept(raw):
    assert not isinstance(normalise_row(1, {"name": raw}), list)


def post_file(client, world, content: bytes, name: str):
    data = io.BytesIO(content)
    data.name = name
    return client.post(
        reverse("registry:imports"),
        {
            "area": world.a.community.pk,
            "source_name": "户籍科",
            "source_kind": "household_registration",
            "file": data,
        },
    )


def test_empty_and_oversized_uploads_are_refused_in_the_readers_language(
    world, client_for, monkeypatch
):
    from linli.registry import forms

    client = client_for(world.steward_a)
    empty = post_file(client, world, b"", "x.csv").content.decode()
    assert "文件是空的" in empty and "the file is empty" not in empty
    monkeypatch.setattr(forms, "MAX_UPLOAD_BYTES", 10)
    large = post_file(client, world, people_csv(3), "x.csv").content.decode()
    assert "50 MB" in large and "文件超过" in large and "larger" not in large


# --- finding 5: formulas in the rejected rows' header --------------------------------------------


def test_the_rejected_rows_header_is_defused_like_its_cells(world, client_for):
    data = ("姓名,=HYPERLINK(1),+cmd,@SUM(A1)\n,=1+1,-2,@x\n张三,a,b,c\n").encode()
    batch = upload(world, data, "formula.csv")
    batch.status = BatchStatus.QUEUED
    batch.save(update_fields=["status"])
    batch = pipeline.run_batch(batch)
    assert batch.rejected_rows == 1
    response = client_for(world.steward_a).get(reverse("registry:import_rejected", args=[batch.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows[1], rows[2]
    assert header[4:] == ["'=HYPERLINK(1)", "'+cmd", "'@SUM(A1)"]
    assert row[4:] == ["'=1+1", "'-2", "'@x"]
