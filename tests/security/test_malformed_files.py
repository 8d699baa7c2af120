"""A standing probe of malformed department files (issue 11, finding 1 and the probe's 16 bad
files): each is uploaded through the import page as a data steward. A file is either refused
with a message in both languages (400, the registry and the stored uploads unchanged) or
accepted and imported with its bad rows rejected; never a server error, never a failed run.

New kinds of bad file join FILES below.
"""

import codecs
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from linli.areas.models import Area
from linli.registry.importing import pipeline, readers
from linli.registry.importing.workbooks import shared_strings_workbook
from linli.registry.models import BatchStatus, Household, ImportBatch, Person, SourceRecord

HEADER = "姓名,公民身份号码,联系电话,现住址"
ROW = "赵六,61011319900307207X,13800001111,翠华小区3号楼2单元501室"


def _xlsx(rows: list[list[str]], **options) -> bytes:
    strings: list[str] = []
    table = []
    for row in rows:
        table.append([len(strings) + n for n in range(len(row))])
        strings.extend(row)
    return shared_strings_workbook(strings, table, **options)


GOOD_XLSX = _xlsx([HEADER.split(","), ROW.split(",")])


def _not_an_xlsx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "这不是工作簿")
    return out.getvalue()


def _absurd_dimension_with_a_far_cell() -> bytes:
    # A1 and XFD1048576 both hold a value: a reader that allocates the rectangle between them
    # asks for 17 billion cells.
    data = shared_strings_workbook(["姓名", "张三"], [[0]], dimension="A1:XFD1048576")
    far = '<row r="1048576"><c r="XFD1048576" t="s"><v>1</v></c></row></sheetData>'
    return _rewrite(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("</sheetData>", far))


def _rewrite(data: bytes, name: str, change) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == name:
                body = change(body.decode()).encode()
            archive.writestr(info.filename, body)
    return out.getvalue()


def _mixed_encodings() -> bytes:
    return (HEADER + "\n").encode() + (ROW + "\n").encode("gb18030") + ("李四,,,翠华\n").encode()


# name → (file name, content, expected: "refused" or "imported")
FILES = {
    "truncated_xlsx": ("t.xlsx", GOOD_XLSX[: len(GOOD_XLSX) // 2], "refused"),
    "zip_not_xlsx": ("z.xlsx", _not_an_xlsx(), "refused"),
    "not_a_zip_named_xlsx": ("p.xlsx", b"PK\x03\x04 not really", "refused"),
    "absurd_dimension": (
        "d.xlsx",
        _xlsx([HEADER.split(","), ROW.split(",")], dimension="A1:XFD1048576"),
        "imported",
    ),
    "absurd_dimension_far_cell": ("f.xlsx", _absurd_dimension_with_a_far_cell(), "refused"),
    "shared_strings_bomb": (
        "b.xlsx",
        shared_strings_workbook([f"张{n}" for n in range(500)], [[0], [1]]),
        "refused",  # over MAX_SHARED_STRINGS, patched down to 100 below
    ),
    "shared_strings_lie": (
        "l.xlsx",
        shared_strings_workbook(["姓名", "张三"], [[0], [1], [7]], declared_count=10**9),
        "refused",  # the count it declares is not believed; index 7 is a damaged file
    ),
    "cell_bomb": (
        "c.xlsx",
        shared_strings_workbook(["姓名", "张三"], [[0], *[[1] * 24] * 500], references=False),
        "refused",  # over the cell limit, patched down to 5,000 below
    ),
    "gb18030_invalid_bytes": (
        "g.csv",
        (HEADER + "\n" + ROW + "\n").encode("gb18030") + b"\x81\x20\xff\xfe,\x80\n",
        "refused",
    ),
    # Neither UTF-8 nor GB18030 throughout: refused, never half-read as mojibake.
    "mixed_encodings": ("m.csv", _mixed_encodings(), "refused"),
    "only_headers": ("h.csv", (HEADER + "\n").encode(), "imported"),
    # No header row: every row is data, the columns recognised by their values (issue 13).
    "header_less": ("n.csv", (ROW + "\n" + ROW + "\n").encode(), "imported"),
    "nul_bytes": (
        "0.csv",
        (HEADER + "\n" + ROW.replace("赵", "赵\x00") + "\n\x00\n").encode(),
        "imported",
    ),
    "nul_bytes_only": ("00.csv", b"\x00" * 64, "refused"),
    "one_column": ("1.csv", "姓名\n张三\n李四\n".encode(), "imported"),
    "ten_thousand_columns": (
        "w.csv",
        (",".join(["姓名", *[f"c{n}" for n in range(10_000)]]) + "\n张三\n").encode(),
        "refused",
    ),
    "ten_thousand_cells_in_a_row": (
        "r.csv",
        ("姓名,电话\n" + ",".join(["张三"] * 10_000) + "\n").encode(),
        "refused",
    ),
    "formulas": (
        "x.csv",
        ('姓名,=HYPERLINK(1),+1,@SUM(A1)\n=cmd|"/C calc"!A0,=1+1,-2,@x\n张三,a,b,c\n').encode(),
        "imported",
    ),
    "formulas_xlsx": (
        "x.xlsx",
        _xlsx([["姓名", "=HYPERLINK(1)"], ["=1+1", "@SUM(A1)"], ["张三", "+1"]]),
        "imported",
    ),
    "bom_utf8": ("u8.csv", codecs.BOM_UTF8 + (HEADER + "\n" + ROW + "\n").encode(), "imported"),
    "bom_utf16_le": (
        "u16le.txt",
        codecs.BOM_UTF16_LE + (HEADER + "\n" + ROW + "\n").replace(",", "\t").encode("utf-16-le"),
        "imported",
    ),
    "bom_utf16_be": (
        "u16be.csv",
        codecs.BOM_UTF16_BE + (HEADER + "\n" + ROW + "\n").encode("utf-16-be"),
        "imported",
    ),
    "bom_utf8_twice": (
        "bb.csv",
        codecs.BOM_UTF8 * 2 + (HEADER + "\n" + ROW + "\n").encode(),
        "imported",
    ),
    "bom_utf8_then_gbk": (
        "bg.csv",
        codecs.BOM_UTF8 + (HEADER + "\n" + ROW + "\n").encode("gb18030"),
        "imported",
    ),
    "bom_utf32": (
        "u32.csv",
        codecs.BOM_UTF32_LE + (HEADER + "\n" + ROW + "\n").encode("utf-32-le"),
        "imported",
    ),
    "empty": ("e.csv", b"", "refused"),
    "blank_lines": ("s.csv", b"\n\n \n\t\n", "refused"),
    "wrong_extension": ("x.exe", b"MZ\x90\x00", "refused"),
}


def registry_state() -> dict[str, list]:
    """Returns what a refused file must leave as it was."""
    return {
        "people": list(Person.objects.order_by("pk").values_list("pk", "name", "dwelling_id")),
        "households": list(Household.objects.order_by("pk").values_list("pk", "head_id")),
        "records": list(SourceRecord.objects.order_by("pk").values_list("pk")),
        "areas": list(Area.objects.order_by("pk").values_list("pk", "name")),
        "batches": list(ImportBatch.objects.order_by("pk").values_list("pk", "status")),
    }


def stored_uploads(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("case", sorted(FILES))
def test_a_malformed_file_is_refused_or_imported_with_row_errors(
    case, world, client_for, settings, monkeypatch
):
    file_name, content, expected = FILES[case]
    settings.LINLI_IMPORT_MAX_CELLS = 5_000
    monkeypatch.setattr(readers, "MAX_SHARED_STRINGS", 100, raising=False)
    client = client_for(world.steward_a)
    before, files_before = registry_state(), stored_uploads(settings)
    upload = io.BytesIO(content)
    upload.name = file_name
    response = client.post(
        reverse("registry:imports"),
        {
            "area": world.a.community.pk,
            "source_name": case,
            "source_kind": "household_registration",
            "file": upload,
        },
    )
    assert response.status_code in (302, 400), response.status_code
    outcome = "imported" if response.status_code == 302 else "refused"
    assert outcome == expected, response.content.decode()[-2000:]
    if outcome == "refused":
        body = response.content.decode()
        assert 'class="errorlist' in body
        # In the page's language (Chinese by default), not a "中文 / English" pair.
        reason = body.split('class="errorlist')[1].split("</ul>")[0]
        assert re.search(r"[\u4e00-\u9fff]", reason) and " / " not in reason, reason
        assert registry_state() == before
        assert stored_uploads(settings) == files_before
        return
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    batch = ImportBatch.objects.latest("pk")
    batch.status = BatchStatus.QUEUED
    batch.save(update_fields=["status"])
    batch = pipeline.run_batch(batch)
    assert batch.status in (BatchStatus.COMMITTED, BatchStatus.DUPLICATE), batch.error
    for name in Person.objects.values_list("name", flat=True):
        assert name.isprintable() and "<" not in name and not name.startswith("=")
