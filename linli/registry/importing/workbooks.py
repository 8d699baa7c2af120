"""Writing plain XLSX files by hand, streaming, for tests and bench: a million-row workbook
(or a hostile one: a shared-strings bomb, an absurd dimension) in seconds and a few MB,
where openpyxl would take minutes and gigabytes to write it.
"""

import io
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

_OPC = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Types xmlns="{_OPC}/content-types">'
    f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SHEET_TYPE}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SHEET_TYPE}.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Relationships xmlns="{_OPC}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    f'xmlns:r="{_OFFICE}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<Relationships xmlns="{_OPC}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_OFFICE}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def column_letters(index: int) -> str:
    """Returns Excel's letters for a column counted from 0 (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def shared_strings_workbook(
    strings: Sequence[str],
    rows: Iterable[Sequence[int | float]],
    *,
    dimension: str | None = None,
    declared_count: int | None = None,
    references: bool = True,
) -> bytes:
    """Returns an XLSX with one row per item of `rows`: an int cell is an index into `strings`
    (the shared-strings table), a float cell a number. `dimension` writes a <dimension ref>
    (true or not); a file that claims a different count of strings is made with
    `declared_count`; without `references` cells carry no r="A1" (valid, and smaller).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        count = len(strings) if declared_count is None else declared_count
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(
                f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" '
                f'count="{count}" uniqueCount="{count}">'.encode()
            )
            for text in strings:
                part.write(f"<si><t>{escape(text)}</t></si>".encode())
            part.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'.encode()
            )
            if dimension:
                part.write(f'<dimension ref="{dimension}"/>'.encode())
            part.write(b"<sheetData>")
            buffer = []
            for number, row in enumerate(rows, start=1):
                cells = "".join(
                    f'<c{_ref(col, number, references)} t="s"><v>{value}</v></c>'
                    if isinstance(value, int)
                    else f"<c{_ref(col, number, references)}><v>{value!r}</v></c>"
                    for col, value in enumerate(row)
                )
                row_ref = f' r="{number}"' if references else ""
                buffer.append(f"<row{row_ref}>{cells}</row>")
                if len(buffer) >= 1000:
                    part.write("".join(buffer).encode())
                    buffer.clear()
            part.write("".join(buffer).encode())
            part.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _ref(column: int, row: int, references: bool) -> str:
    return f' r="{column_letters(column)}{row}"' if references else ""
