"""Reading department files (CSV in any encoding they come in, XLSX) into rows of text.

Every cell comes out as the text a person sees in Excel, never as a float: an 18-digit ID
number stored as a number has already lost its last digits, and it must reach the ID
validator looking damaged (`6.10103199001011e+17`), not as a plausible number.

Memory is bounded by what a file holds, not by what it claims: rows are read one at a time
(XLSX through openpyxl's streaming reader, never a whole sheet at once), counted as they come,
and a file is refused as soon as it passes MAX_ROWS rows, MAX_COLUMNS columns or the cell
limit (setting LINLI_IMPORT_MAX_CELLS); a workbook's shared-strings table, which every reader holds
whole, is measured in the zip before it is expanded. An upload keeps only a sample of rows
(`sample=`); the background worker reads the whole file.

Control characters are removed from every cell (NUL always; tab and line breaks survive inside
a cell, where an address may have them): PostgreSQL refuses a NUL, and one must not fail a
whole file.
"""

import codecs
import csv
import io
import math
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

import openpyxl
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from openpyxl.utils.escape import unescape as _unescape
from python_calamine import CalamineWorkbook, SheetVisibleEnum

from linli.core.errors import BilingualError
from linli.registry.importing.mapping import count_known_headers

DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_CELLS = 3_000_000  # settings.LINLI_IMPORT_MAX_CELLS overrides it
HEADER_SEARCH_ROWS = 10  # a title block above the header is rarely longer than this
DELIMITERS = (",", ";", "\t", "|")
TEXT_EXTENSIONS = {".csv", ".tsv", ".txt"}
WORKBOOK_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
STREAMED_WORKBOOKS = {".xlsx", ".xlsm"}  # Office Open XML: read row by row
# C0 controls but tab, line feed and carriage return; DEL; C1 controls.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Whitespace Python's str.strip() misses (zero-width space, BOM) plus the usual kinds.
_STRIP = " \t\r\n\v\f\xa0\u3000\u200b\u200c\u200d\u2028\u2029\ufeff"
_MAX_PRECISE_DIGITS = 15  # Excel keeps (and shows) at most 15 significant digits


class UnreadableFile(BilingualError):
    """Raised with a code and a gettext message (core.errors.BilingualError).

    Codes: empty, unknown_format, corrupt_workbook, encoding, too_many_rows, too_many_columns,
    too_many_cells, too_large.
    """


@dataclass
class Table:
    """A file's header and data rows, every cell as stripped text.

    Rows have exactly len(headers) cells. Blank rows between data rows are kept (as all-""
    rows) so that row numbers match what the steward sees; blank rows at the end are dropped.
    `rows` are all the data rows, or only the first ones when the file was read for a sample;
    `total_rows` counts them all either way.
    """

    headers: list[str]
    rows: list[list[str]]
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030", or the workbook format "xlsx"…
    sheet: str | None = None  # the sheet read, for workbooks
    header_row: int = 1  # the header's row in the file, from 1 (title rows sit above it)
    total_rows: int = -1  # every data row of the file (-1: as many as `rows`)
    cells: int = 0  # data cells counted while reading

    def __post_init__(self) -> None:
        if self.total_rows < 0:
            self.total_rows = len(self.rows)


def max_cells() -> int:
    """Returns the most data cells a file may have (setting LINLI_IMPORT_MAX_CELLS)."""
    return int(getattr(settings, "LINLI_IMPORT_MAX_CELLS", DEFAULT_MAX_CELLS))


def read_table(
    data: bytes,
    filename: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    cell_limit: int | None = None,
    sample: int | None = None,
) -> Table:
    """Returns the file's header and data rows as text (only the first `sample` data rows
    when given: every row is still read and counted, none else kept).

    CSV/TSV/TXT are decoded as UTF-8 with BOM, UTF-16 with BOM, strict UTF-8, else GB18030
    (which reads GBK and GB2312 too), and their delimiter is sniffed among , ; tab |.
    XLSX/XLSM/XLS/XLSB/ODS are read from their first visible non-empty sheet.

    The header is found above the first data rows (a title above it is skipped, a header
    merged over two rows read as one: _find_header, _merged_header); a file whose first row
    is data has no header, and its columns are named 列1, 列2 … for inference to recognise.

    Raises UnreadableFile for an empty file, an unknown extension, a corrupt workbook, text in
    no known encoding, more than max_rows data rows, more than MAX_COLUMNS columns, more data
    cells than `cell_limit` (default: the LINLI_IMPORT_MAX_CELLS setting), or a workbook that
    unpacks to too much.
    """
    cell_limit = max_cells() if cell_limit is None else cell_limit
    extension = PurePath(filename).suffix.lower()
    if extension in TEXT_EXTENSIONS:
        if not data.strip():
            raise _empty()
        text, encoding = _decode(data)
        raw_rows: Iterable[list[str]] = _csv_rows(text)
        sheet = None
    elif extension in WORKBOOK_EXTENSIONS:
        if not data:
            raise _empty()
        parts = _refuse_zip_bomb(data, cell_limit)
        if extension in STREAMED_WORKBOOKS:
            raw_rows, sheet, part = _streamed_workbook_rows(data)
            if sample is not None and part in parts:
                # An upload of a workbook reads only its sample: the rows and cells after it
                # are counted in the zip (rows holding cells), and the worker counts them
                # exactly when it reads the whole file.
                return _assemble(
                    raw_rows,
                    encoding=extension.lstrip("."),
                    sheet=sheet,
                    max_rows=max_rows,
                    cell_limit=cell_limit,
                    sample=sample,
                    counted=parts[part],
                )
        else:
            raw_rows, sheet = _workbook_rows(data)
        encoding = extension.lstrip(".")
    else:
        raise UnreadableFile(
            "unknown_format",
            _("unsupported file type “%(extension)s”: upload a CSV or Excel (xlsx) file"),
            {"extension": extension or filename},
        )
    return _assemble(
        raw_rows,
        encoding=encoding,
        sheet=sheet,
        max_rows=max_rows,
        cell_limit=cell_limit,
        sample=sample,
    )


def _assemble(
    raw_rows: Iterable[list[str]],
    *,
    encoding: str,
    sheet: str | None,
    max_rows: int,
    cell_limit: int,
    sample: int | None,
    counted: "PartCount | None" = None,
) -> Table:
    """Returns the Table of a stream of rows, counted (and refused) as they come.

    Blank rows are held back until a non-blank row follows them: a sheet formatted down to
    row 1,048,576 must not count (or cost memory) as a million rows. With `counted` (a
    workbook sheet's rows and cells counted in its XML), reading stops after the sample and
    the totals are those counts.
    """
    rows = iter(raw_rows)
    first, leading_blank = _first_rows(rows)
    if sheet is not None:
        # A sheet starts at its first used column (calamine's view, which the steward knows
        # from Excel): columns left blank in the first rows are not columns of the table.
        offset = min(_leading_blanks(row) for row in first if row)
        if offset:
            first = [row[offset:] for row in first]
            rows = (row[offset:] for row in rows)
    header_index = _find_header(first)
    if header_index is None:
        # No header row: every row is data, and the columns are named by their position
        # (列1, 列2 …) for inference to recognise by their values.
        header = []
        header_index = -1
    else:
        header = _merged_header(first, header_index)
    if len(header) > MAX_COLUMNS:
        header = _trimmed(header)
        if len(header) > MAX_COLUMNS:
            raise _too_many_columns()
    kept: list[list[str]] = []
    keep = sample if sample is not None else max_rows + 1
    total = cells = 0
    width = len(header)
    pending_blank = 0

    def take(row: list[str]) -> None:
        nonlocal total, cells, width
        total += 1
        if total > max_rows:
            raise UnreadableFile(
                "too_many_rows",
                _("the file has more than %(rows)s data rows; split it and import the parts"),
                {"rows": f"{max_rows:,}"},
            )
        cells += len(row)
        if cells > cell_limit:
            raise _too_many_cells(cell_limit)
        if len(row) > width:
            width = len(row)
            if width > MAX_COLUMNS:
                raise _too_many_columns()
        if len(kept) < keep:
            kept.append(row)

    def data_rows() -> Iterator[list[str]]:
        yield from first[header_index + 1 :]
        yield from rows

    for row in data_rows():
        row = _trimmed(row)
        if not row:
            pending_blank += 1
            continue
        for _blank in range(pending_blank):
            take([])
        pending_blank = 0
        take(row)
        if counted is not None and len(kept) >= keep:
            # Rows holding cells, less the title and header rows read so far.
            above = sum(1 for r in first[: header_index + 1] if r)
            total = max(total, counted.rows - above)
            cells = max(cells, counted.cells)
            if total > max_rows:
                take([])  # refuses it
            break
    headers = _unique_headers([*header, *[""] * (width - len(header))])
    for row in kept:  # in place: the worker's table is the largest thing it holds
        row.extend([""] * (width - len(row)))
    return Table(
        headers=headers,
        rows=kept,
        encoding=encoding,
        sheet=sheet,
        header_row=leading_blank + header_index + 1 if header else 0,
        total_rows=total,
        cells=cells,
    )


def _first_rows(rows: Iterator[list[str]]) -> tuple[list[list[str]], int]:
    """Returns the first HEADER_SEARCH_ROWS non-blank rows (blank rows between them as []),
    and how many blank rows came before them. Raises UnreadableFile when there are none."""
    first: list[list[str]] = []
    leading_blank = pending_blank = 0
    for row in rows:
        if not any(row):
            if first:
                pending_blank += 1
            else:  # blank rows above the first content are not rows of the table
                leading_blank += 1
            continue
        first.extend([] for _blank in range(pending_blank))
        pending_blank = 0
        first.append(row)
        if sum(1 for r in first if r) >= HEADER_SEARCH_ROWS:
            break
    if not first:
        raise _empty()
    return first, leading_blank


def _leading_blanks(row: list[str]) -> int:
    return next((position for position, cell in enumerate(row) if cell), len(row))


def _trimmed(row: list[str]) -> list[str]:
    """Returns the row without its trailing blank cells (the same list when it has none)."""
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row if end == len(row) else row[:end]


def _too_many_columns() -> UnreadableFile:
    return UnreadableFile(
        "too_many_columns",
        _("the file has more than %(columns)s columns; check the separator or split it"),
        {"columns": MAX_COLUMNS},
    )


def _too_many_cells(limit: int) -> UnreadableFile:
    return UnreadableFile(
        "too_many_cells",
        _("the file has more than %(cells)s cells; split it and import the parts"),
        {"cells": f"{limit:,}"},
    )


def _empty() -> UnreadableFile:
    return UnreadableFile("empty", _("the file is empty"))


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16's, its prefix
        return data.decode("utf-32", errors="replace"), "utf-32"
    # Excel's "Unicode text" export is UTF-16 with a BOM (and tab-separated).
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: one decoder reads all three.
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "encoding", _("the file's encoding is not recognised: save it as a UTF-8 or GBK CSV")
        ) from exc


def sniff_delimiter(text: str) -> str:
    """Returns the delimiter among , ; tab | that splits the first lines most consistently.

    The most common non-zero count per line wins, scored by how many lines share it, so a
    title row or a stray comma in an address does not decide it. Defaults to ",".
    """
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = [line.count(delimiter) for line in lines]
        common = Counter(count for count in counts if count)
        if not common:
            continue
        count, lines_sharing = common.most_common(1)[0]
        score = (lines_sharing, count)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(text: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    for row in reader:
        yield [_clean_text(cell) for cell in row]


def remove_controls(text: str) -> str:
    """Returns text without control characters (tab, line feed and carriage return kept)."""
    return text if text.isprintable() else _CONTROLS.sub("", text)


def _clean_text(cell: str) -> str:
    if not cell.isprintable():  # cheap test first: most cells have no control character
        cell = _CONTROLS.sub("", cell)
    cell = cell.strip(_STRIP)
    if cell and cell[0] in "'=":
        # Tricks people use to keep Excel from eating an ID: a leading apostrophe, or the
        # formula ="610103…". The digits inside are what they meant.
        if cell[0] == "'" and cell[1:].rstrip("xX").isdigit():
            return cell[1:]
        if cell.startswith('="') and cell.endswith('"') and len(cell) >= 3:
            return cell[2:-1].strip(_STRIP)
    return cell


def _workbook_rows(data: bytes) -> tuple[Iterator[list[str]], str]:
    try:
        workbook = CalamineWorkbook.from_object(io.BytesIO(data))
        metadata = workbook.sheets_metadata
        # Hidden sheets usually hold drop-down lists: read them only if nothing else has data.
        order = sorted(
            range(len(metadata)), key=lambda i: metadata[i].visible != SheetVisibleEnum.Visible
        )
        for index in order:
            sheet = workbook.get_sheet_by_index(index)
            if sheet.height and sheet.width:
                return _sheet_rows(sheet.iter_rows()), sheet.name
    except Exception as exc:  # calamine raises zip and xml errors of several kinds
        raise _corrupt() from exc
    raise _empty()


def _streamed_workbook_rows(data: bytes) -> tuple[Iterator[list[str]], str, str]:
    """Returns the rows of the first visible non-empty sheet of an XLSX, read as they are
    iterated (openpyxl's read-only mode: one row in memory at a time, values cached by Excel
    for formulas), the sheet's name and its part in the zip."""
    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
        # Hidden sheets usually hold drop-down lists: read them only if nothing else has data.
        sheets = sorted(workbook.worksheets, key=lambda ws: ws.sheet_state != "visible")
        for sheet in sheets:
            if not hasattr(sheet, "reset_dimensions"):
                continue  # a chart sheet
            # The <dimension> a file declares is not trusted: A1:XFD1048576 would pad every row
            # to 16,384 cells.
            sheet.reset_dimensions()
            if any(any(row) for row in _sheet_rows(sheet.iter_rows(values_only=True), True)):
                # Read again from its top, so leading blank rows are counted as before.
                rows = _sheet_rows(sheet.iter_rows(values_only=True), True)
                return rows, sheet.title, sheet._worksheet_path.lower()
    except UnreadableFile:
        raise
    except Exception as exc:  # zip, xml and openpyxl's own errors of several kinds
        raise _corrupt() from exc
    raise _empty()


def _sheet_rows(rows: Iterator[Iterable[object]], escaped: bool = False) -> Iterator[list[str]]:
    # Rows are decoded lazily, so a broken part of the file surfaces here, mid-iteration.
    # `escaped`: Excel writes characters XML cannot hold as _xHHHH_ (a carriage return as
    # _x000D_, a NUL as _x0000_); calamine undoes it, openpyxl's streaming reader does not.
    try:
        for row in rows:
            if escaped:
                row = [_unescape(v) if isinstance(v, str) and "_x" in v else v for v in row]
            yield [_cell_text(value) for value in row]
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine's and openpyxl's errors surface here too
        raise _corrupt() from exc


def _corrupt() -> UnreadableFile:
    return UnreadableFile(
        "corrupt_workbook", _("the Excel file is damaged or not in the format its name claims")
    )


def _cell_text(value: object) -> str:
    """Returns a workbook cell as the text Excel shows for it (General format)."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | int):
        return number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return "" if value is None else str(value).strip(_STRIP)


def number_text(value: float | int) -> str:
    """Returns a number as Excel shows it to a user.

    Integral values with at most 15 significant digits (phones, 15-digit IDs, counts) come
    out as plain digits without ".0". Anything longer cannot have survived Excel's 15-digit
    precision, so it comes out in scientific notation ("6.10103199001011e+17"), which the
    ID validator rejects as Excel damage instead of mistaking it for a real number.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) or value.is_integer():
        whole = int(value)
        if len(str(abs(whole)).rstrip("0")) <= _MAX_PRECISE_DIGITS:
            return str(whole)
        return format(float(value), ".15g")
    return format(value, ".15g")


def _find_header(rows: list[list[str]]) -> int | None:
    """Returns the index of the header row, or None when the file has none.

    When a row of the first HEADER_SEARCH_ROWS looks like data (an ID or phone number, a
    date or a dwelling in it: _data_row), the header is among the rows above it: of those
    with two cells or more (a title fills one merged cell), the fullest, then the one with
    most known header spellings, then the nearest to the data (a group row merged across
    columns sits above the real header).
    Its spellings need not be known: the columns are recognised by their values. When the
    data starts on the first row there is no header. Without a data-like row, the header is
    the first row with two known spellings, else the first with one, else the first row.
    """
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if _data_row(row):
            above = [i for i in range(index) if rows[i]]
            if not above:
                return None
            wide = [i for i in above if _filled(rows[i]) >= 2] or above
            return wide[-1]
    first_with_one = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        known = count_known_headers(row)
        if known >= 2:
            return index
        if known == 1 and first_with_one is None:
            first_with_one = index
    return first_with_one if first_with_one is not None else 0


def _filled(row: list[str]) -> int:
    return sum(1 for cell in row if cell)


def _merged_header(rows: list[list[str]], index: int) -> list[str]:
    """Returns the header row with its blank cells taken from the rows above it that have two
    cells or more (a header cell merged over two rows keeps its text in the upper row; a
    one-cell title is not a header)."""
    header = list(rows[index])
    groups = [row for row in rows[:index] if _filled(row) >= 2]
    if not groups:
        return header
    width = max(len(header), *(len(row) for row in groups))
    header.extend([""] * (width - len(header)))
    for position, cell in enumerate(header):
        if not cell:
            header[position] = next(
                (
                    row[position]
                    for row in reversed(groups)
                    if position < len(row) and row[position]
                ),
                "",
            )
    return _trimmed(header)


# What no header cell holds: a full date, a dwelling (3号楼, 2单元, 501室, 3-2-501).
_DATA_PATTERN = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}|\d+\s*(?:号楼|栋|幢|单元|室)|^\d+-\d+-\d+$"
)


def _looks_like_data(cell: str) -> bool:
    """Returns whether a cell holds an ID number or a phone, which no header does."""
    digits = cell.replace(" ", "").replace("-", "")
    return len(digits) >= 7 and digits[:-1].isdigit()


def _data_row(row: list[str]) -> bool:
    """Returns whether a row is data: an ID number or a phone in it, or, in a row of two
    cells or more (a title, "2022年11月5日检测名单", fills one), a date or a dwelling."""
    if any(_looks_like_data(cell) for cell in row):
        return True
    return _filled(row) >= 2 and any(
        _DATA_PATTERN.search(cell) for cell in row if any(c.isdigit() for c in cell)
    )


MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


# A shared string costs a Python object (about 50 bytes) plus its text, in any XLSX reader:
# their count and size are refused before the table is expanded.
MAX_SHARED_STRINGS = 1_000_000
# Bytes a reader holds per shared string, per cell read as its own text, per cell that points
# at a shared string (measured by bench/import_memory.py). A workbook may cost what the cell
# limit of plain cells costs.
SHARED_STRING_BYTES = 190
CELL_BYTES = 80
REFERENCE_BYTES = 8
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_OVERLAP = 16  # longer than any element start counted


@dataclass
class PartCount:
    """A sheet's cells and the rows holding cells, counted in its XML."""

    cells: int = 0
    rows: int = 0


def _refuse_zip_bomb(data: bytes, cell_limit: int) -> dict[str, PartCount]:
    """An xlsx is a zip: refuses one that would unpack to more than MAX_UNPACKED_BYTES, whose
    shared-strings table holds more strings than `cell_limit` or more than
    MAX_SHARED_STRINGS_BYTES, or whose sheets hold more than `cell_limit` cells. The parts are
    measured by streaming them through the decompressor, never by what the file declares.

    Returns each sheet's counts by its part's name (lower case). Raises UnreadableFile
    (too_large, too_many_cells)."""
    parts: dict[str, PartCount] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
                raise _too_large()
            cells = strings = string_cells = 0
            for info in infos:
                name = info.filename.lower()
                if name.endswith("sharedstrings.xml"):
                    counted = _count_tags(
                        archive, info, _SHARED_STRING, max_count=MAX_SHARED_STRINGS
                    )
                    strings = counted.found
                    if strings > MAX_SHARED_STRINGS or counted.size > MAX_SHARED_STRINGS_BYTES:
                        raise _too_large()
                elif name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    counts = _count_tags(
                        archive, info, _CELL, max_count=cell_limit - cells, rows=True
                    )
                    cells += counts.found
                    string_cells += counts.shared
                    if cells > cell_limit:
                        raise _too_many_cells(cell_limit)
                    parts[name] = PartCount(cells=counts.found, rows=counts.rows)
            # What reading it will hold: every shared string, a text per other cell, a
            # reference per shared-string cell. Many strings and many numbers together would
            # pass each limit alone.
            cost = (
                strings * SHARED_STRING_BYTES
                + max(cells - string_cells, 0) * CELL_BYTES
                + string_cells * REFERENCE_BYTES
            )
            if cost > cell_limit * CELL_BYTES:
                raise _too_large()
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError):
        # Not a zip (xls…) or a damaged one: the workbook reader says what is wrong.
        return {}
    return parts


# Element starts, with or without a namespace prefix (<x:c r="A1">), counted with bytes.count:
# hundreds of MB a second, where a regular expression would take an upload's whole time.
_SHARED_STRING = (b"<si>", b"<si ", b":si>", b":si ")
_CELL = (b"<c ", b"<c>", b"<c/", b":c ", b":c>", b":c/")
_ROW = (b"<row ", b"<row>", b":row ", b":row>")
_SHARED_TYPE = b' t="s"'
# An empty row (<row r="9" s="3" customFormat="1"/>) is the element just before the next row,
# or before the end of sheetData, closing itself.
_EMPTY_ROW = (b"/><row", b"/><x:row", b"/></sheetData>", b"/></x:sheetData>")


@dataclass
class TagCount:
    found: int = 0  # elements counted
    rows: int = 0  # rows holding cells (sheets only)
    shared: int = 0  # cells holding a shared string (sheets only)
    size: int = 0  # bytes unpacked


def _count_tags(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    starts: tuple[bytes, ...],
    *,
    max_count: int,
    rows: bool = False,
) -> TagCount:
    """Returns how many element starts of `starts` a part has (and, for a sheet, its rows
    holding cells), and its unpacked size; stops once more than max_count are found or
    MAX_UNPACKED_BYTES are read. Counted on the raw bytes as they unpack: a few false
    positives in text only make a limit safer."""
    counts = TagCount()
    tail = b""
    with archive.open(info) as part:
        while counts.size <= MAX_UNPACKED_BYTES and counts.found <= max_count:
            chunk = part.read(_CHUNK)
            if not chunk:
                break
            counts.size += len(chunk)
            window = tail + chunk
            # The end of the window is read again with the next chunk (an element start may be
            # cut between two): what lies wholly inside it is not counted twice.
            tail = window[-_OVERLAP:]
            counts.found += _occurrences(window, starts) - _occurrences(tail, starts)
            if rows:
                counts.shared += window.count(_SHARED_TYPE) - tail.count(_SHARED_TYPE)
                counts.rows += _occurrences(window, _ROW) - _occurrences(tail, _ROW)
                counts.rows -= _occurrences(window, _EMPTY_ROW) - _occurrences(tail, _EMPTY_ROW)
    return counts


def _occurrences(data: bytes, needles: tuple[bytes, ...]) -> int:
    return sum(data.count(needle) for needle in needles)


def _too_large() -> UnreadableFile:
    return UnreadableFile(
        "too_large", _("the workbook unpacks to too much data; split it and import the parts")
    )


def _unique_headers(header: list[str]) -> list[str]:
    # A mapping is keyed by header name, so two columns both called "电话" (or both blank)
    # must get distinct names; the copy keeps the original name so synonyms still see it.
    seen: Counter[str] = Counter()
    unique = []
    for position, name in enumerate(header, start=1):
        name = name or f"列{position}"
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}({seen[name]})")
    return unique
