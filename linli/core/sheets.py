"""Reading the go-live sheets (areas, staff) and writing their templates.

The registry's reader (linli.registry.importing.readers) sits above the areas and accounts
apps in the layers, so this one is small on purpose: XLSX through openpyxl's streaming
reader, CSV in UTF-8 (with or without BOM) or GB18030 (which covers GBK), every cell as the
text a person sees. A number cell holding a 12-digit code comes back without ".0".
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

import openpyxl
from django.utils.translation import gettext_lazy as _

from linli.core.errors import BilingualError

MAX_ROWS = 600_000  # a district's dwellings fit; a runaway file does not


class UnreadableSheet(BilingualError):
    """Raised for a file that is not a readable CSV or XLSX."""


@dataclass
class Sheet:
    name: str
    headers: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, cells)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return str(value).strip().replace("\u3000", " ").strip()


def _sheet(name: str, rows: Iterable[Iterable[object]]) -> Sheet | None:
    iterator = iter(rows)
    headers: list[str] = []
    header_row = 0
    for header_row, raw in enumerate(iterator, start=1):  # noqa: B007 - read below
        cells = [_text(v) for v in raw]
        if any(cells):
            headers = [c.replace("*", "").strip() for c in cells]
            break
    if not headers:
        return None
    sheet = Sheet(name=name, headers=headers)
    for number, raw in enumerate(iterator, start=header_row + 1):
        cells = [_text(v) for v in raw]
        if not any(cells):
            continue
        if cells[0].startswith("#"):  # the template's explanation rows
            continue
        if len(sheet.rows) >= MAX_ROWS:
            raise UnreadableSheet("too_many_rows", _("The file has too many rows."))
        sheet.rows.append((number, dict(zip(headers, cells, strict=False))))
    return sheet


def read_sheets(data: bytes, file_name: str) -> list[Sheet]:
    """Returns the non-empty sheets of an XLSX or CSV file. Raises UnreadableSheet."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a damaged zip
            raise UnreadableSheet(
                "corrupt_workbook", _("The workbook cannot be opened.")
            ) from error
        sheets = [_sheet(ws.title, ws.iter_rows(values_only=True)) for ws in book.worksheets]
        book.close()
        return [s for s in sheets if s is not None]
    if suffix in {".csv", ".txt"}:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            sheet = _sheet(PurePath(file_name).stem, csv.reader(io.StringIO(text)))
            return [sheet] if sheet else []
        raise UnreadableSheet("encoding", _("The file is neither UTF-8 nor GB18030 text."))
    raise UnreadableSheet("unknown_format", _("Upload an Excel (.xlsx) or CSV file."))


def workbook(sheets: list[tuple[str, list[str], list[list[str]]]]) -> bytes:
    """Returns an XLSX of (title, headers, rows) sheets, every cell stored as text (a code
    typed as a number would lose nothing, but Excel would show it in E-notation)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, headers, rows in sheets:
        ws = book.create_sheet(title)
        ws.append(headers)
        for row in rows:
            ws.append(row)
        for column in ws.columns:
            for cell in column:
                cell.number_format = "@"
            ws.column_dimensions[column[0].column_letter].width = 16
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
