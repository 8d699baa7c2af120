"""The Excel file of a work-order list: one row per order the user may see, masked by role
(the rows come from selectors.present_orders), under a watermark. Written in openpyxl's
write-only mode into a temporary file, so memory stays flat however many orders there are."""

import tempfile
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from linli.core.spreadsheets import defuse_formula, safe_cell, watermark
from linli.workorders.selectors import OrderRow

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's row limit, less the watermark and header rows.
MAX_ROWS = 1_048_576 - 2


def _text(value: str) -> str:
    # People's text (names, descriptions): identifiers masked, formulas defused.
    return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value or ""))


def _local(value: datetime | None) -> datetime | str:
    # Excel has no time zones: the local wall-clock time.
    return timezone.localtime(value).replace(tzinfo=None, microsecond=0) if value else ""


def _cells(row: OrderRow, yes: str, no: str) -> list[object]:
    return [
        row.id,
        _text(row.kind),
        row.priority_label,
        row.state_label,
        _text(row.area_name),
        _text(row.person.name) if row.person else "",
        _text(row.contact_name),
        _text(row.text),
        _text(row.assignee or row.queue),
        _local(row.accept_by),
        _local(row.done_by),
        yes if row.overdue else no,
        row.raised_via,
        _text(row.external_source),
        _text(row.external_reference),
        _local(row.created_at),
    ]


def orders_workbook(
    rows: Iterable[OrderRow], *, exported_by: str, at: datetime
) -> tuple[IO[bytes], int]:
    """Writes the rows into an .xlsx and returns the file (rewound, deleted when closed) and
    the number of order rows written. The sheet starts with the watermark line and prints it
    in its header."""
    mark = watermark(exported_by, at)
    yes, no = _("Yes"), _("No")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Work orders"))
    sheet.oddHeader.center.text = mark
    sheet.freeze_panes = "A3"
    headers = [
        _("Number"),
        _("Kind"),
        _("Priority"),
        _("State"),
        _("Area"),
        _("Resident"),
        _("Contact"),
        _("Description"),
        _("Assignee"),
        _("Accept by"),
        _("Done by"),
        _("Overdue"),
        _("Raised through"),
        _("External source"),
        _("External reference"),
        _("Raised at"),
    ]
    for index in range(1, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 16

    def bold(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=defuse_formula(value))
        cell.font = Font(bold=True)
        return cell

    sheet.append([bold(mark)])
    sheet.append([bold(header) for header in headers])
    written = 0
    for row in rows:
        if written >= MAX_ROWS:
            break
        sheet.append(_cells(row, yes, no))
        written += 1
    # Handed to the response, which closes (and so deletes) it once sent.
    out = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        book.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, written
