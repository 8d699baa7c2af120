"""Reading department files (CSV in any encoding they come in, XLSX) into rows of text.

Every cell comes out as the text a person sees in Excel, never as a float: an 18-digit ID
number stored as a number has already lost its last digits, and it must reach the ID
validator looking damaged (`6.10103199001011e+17`), not as a plausible number.
"""

import codecs
import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

from django.utils.translation import gettext_lazy as _
from python_calamine import CalamineError, CalamineWorkbook, SheetVisibleEnum

from linli.core.errors import BilingualError
from linli.registry.importing.mapping import count_known_headers

DEFAULT_MAX_ROWS = 1_000_000
HEADER_SEARCH_ROWS = 10  # a title block above the header is rarely longer than this
DELIMITERS = (",", ";", "\t", "|")
TEXT_EXTENSIONS = {".csv", ".tsv", ".txt"}
WORKBOOK_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
# Whitespace Python's str.strip() misses (zero-width space, BOM) plus the usual kinds.
_STRIP = " \t\r\n\v\f\xa0\u3000\u200b\u200c\u200d\u2028\u2029\ufeff"
_MAX_PRECISE_DIGITS = 15  # Excel keeps (and shows) at most 15 significant digits


class UnreadableFile(BilingualError):
    """Raised with a code and a gettext message (core.errors.BilingualError).

    Codes: empty, no_header, unknown_format, corrupt_workbook, encoding, too_many_rows.
    """


@dataclass
class Table:
    """A file's header and data rows, every cell as stripped text.

    Rows have exactly len(headers) cells. Blank rows between data rows are kept (as all-""
    rows) so that row numbers match what the steward sees; blank rows at the end are dropped.
    """

    headers: list[str]
    rows: list[list[str]]
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "gb18030", or the workbook format "xlsx"…
    sheet: str | None = None  # the sheet read, for workbooks
    header_row: int = 1  # the header's row in the file, from 1 (title rows sit above it)


def read_table(data: bytes, filename: str, *, max_rows: int = DEFAULT_MAX_ROWS) -> Table:
    """Returns the file's header and data rows as text.

    CSV/TSV/TXT are decoded as UTF-8 with BOM, UTF-16 with BOM, strict UTF-8, else GB18030
    (which reads GBK and GB2312 too), and their delimiter is sniffed among , ; tab |.
    XLSX/XLSM/XLS/XLSB/ODS are read from their first visible non-empty sheet.

    Raises UnreadableFile for an empty file, an unknown extension, a corrupt workbook, text in
    no known encoding, a file whose first row is data rather than a header, or more than
    max_rows data rows.
    """
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
        _refuse_zip_bomb(data)
        raw_rows, sheet = _workbook_rows(data)
        encoding = extension.lstrip(".")
    else:
        raise UnreadableFile(
            "unknown_format",
            _("unsupported file type “%(extension)s”: upload a CSV or Excel (xlsx) file"),
            {"extension": extension or filename},
        )
    rows, leading_blank = _collect(raw_rows, max_rows + HEADER_SEARCH_ROWS)
    if not rows:
        raise _empty()
    header_index = _find_header(rows)
    data_rows = rows[header_index + 1 :]
    if len(data_rows) > max_rows:
        raise UnreadableFile(
            "too_many_rows",
            _("the file has more than %(rows)s data rows; split it and import the parts"),
            {"rows": f"{max_rows:,}"},
        )
    headers, data_rows = _square(rows[header_index], data_rows)
    return Table(
        headers=headers,
        rows=data_rows,
        encoding=encoding,
        sheet=sheet,
        header_row=leading_blank + header_index + 1,
    )


def _empty() -> UnreadableFile:
    return UnreadableFile("empty", _("the file is empty"))


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
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


def _clean_text(cell: str) -> str:
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


def _sheet_rows(rows: Iterator[list[object]]) -> Iterator[list[str]]:
    # Rows are decoded lazily, so a broken part of the file surfaces here, mid-iteration.
    try:
        for row in rows:
            yield [_cell_text(value) for value in row]
    except CalamineError as exc:
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


def _collect(raw_rows: Iterable[list[str]], limit: int) -> tuple[list[list[str]], int]:
    """Returns the rows without leading or trailing blank ones, and how many blank rows led.

    Stops after `limit` non-blank rows. Blank rows are held back until a non-blank row
    follows them: a sheet formatted down to row 1,048,576 must not count (or cost memory)
    as a million rows.
    """
    rows: list[list[str]] = []
    pending_blank = leading_blank = 0
    non_blank = 0
    for row in raw_rows:
        if not any(row):
            if rows:
                pending_blank += 1
            else:  # blank rows above the first content are not rows of the table
                leading_blank += 1
            continue
        if pending_blank:
            rows.extend([] for _ in range(pending_blank))
            pending_blank = 0
        rows.append(row)
        non_blank += 1
        if non_blank > limit:
            break
    return rows, leading_blank


def _find_header(rows: list[list[str]]) -> int:
    """Returns the index of the header row.

    The header is the first of the first HEADER_SEARCH_ROWS rows in which at least two cells
    are known header spellings; failing that the first with one; failing that the first row,
    unless it looks like data (an ID or phone number in it), which means there is no header.
    """
    first_with_one = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        known = count_known_headers(row)
        if known >= 2:
            return index
        if known == 1 and first_with_one is None:
            first_with_one = index
    if first_with_one is not None:
        return first_with_one
    if any(_looks_like_data(cell) for cell in rows[0]):
        raise UnreadableFile(
            "no_header",
            _("the first row is data, not a header: add column names (name, ID number, phone)"),
        )
    return 0


def _looks_like_data(cell: str) -> bool:
    digits = cell.replace(" ", "").replace("-", "")
    return len(digits) >= 7 and digits[:-1].isdigit()


MAX_COLUMNS = 200
MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def _refuse_zip_bomb(data: bytes) -> None:
    """An xlsx is a zip: refuse one that would unpack to more than MAX_UNPACKED_BYTES."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return  # not a zip (xls, ods…): the workbook reader says what is wrong
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableFile(
            "too_large", _("the workbook unpacks to too much data; split it and import the parts")
        )


def _square(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Returns unique header names and rows padded or trimmed to the same width.

    Raises UnreadableFile when a row has more than MAX_COLUMNS filled columns (a broken or
    hostile file would otherwise be padded out in memory)."""
    width = len(header)
    for row in rows:
        if len(row) > width:
            last = len(row)
            while last > width and not row[last - 1]:
                last -= 1
            width = max(width, last)
    if width > MAX_COLUMNS:
        raise UnreadableFile(
            "too_many_columns",
            _("the file has more than %(columns)s columns; check the separator or split it"),
            {"columns": MAX_COLUMNS},
        )
    headers = _unique_headers([*header, *[""] * (width - len(header))][:width])
    squared = []
    for row in rows:
        if len(row) == width:
            squared.append(row)
        elif len(row) < width:
            squared.append([*row, *[""] * (width - len(row))])
        else:
            squared.append(row[:width])
    return headers, squared


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
