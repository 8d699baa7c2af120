"""The Excel file of a campaign's results: one row per target, masked by role on the server
(the rows come from selectors.campaign_results), answers as their labels, under a watermark.

Written with openpyxl's write-only mode into a temporary file, so memory stays flat however
many targets the campaign has; the view streams the file out.
"""

import tempfile
from datetime import date, datetime
from typing import IO

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from linli.core.masking import HIDDEN_TEXT
from linli.core.spreadsheets import defuse_formula, safe_cell, watermark
from linli.screening.questionnaires.schema import QuestionKind, questions_of
from linli.screening.selectors import results as result_selectors

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's row limit, less the watermark and header rows.
MAX_ROWS = 1_048_576 - 2


def _text(value: str) -> str:
    """Text we wrote ourselves or chose from lists: only made safe for Excel."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return defuse_formula(value)


def _free_text(value: str) -> str:
    """Text people typed (names, short answers): identifiers in it are masked too."""
    return _text(safe_cell(value))


def _local(value: datetime | None) -> datetime | None:
    # Excel has no time zones: write the local wall-clock time.
    return timezone.localtime(value).replace(tzinfo=None, microsecond=0) if value else None


def answer_value(question: dict, value: object) -> object:
    """Returns an answer as a cell shows it: option labels instead of codes, yes/no in words,
    numbers and dates as Excel numbers and dates, "" for unanswered or skipped."""
    if value is None or value == "":
        return ""
    kind = question.get("kind")
    if kind == QuestionKind.YES_NO:
        return _("Yes") if value is True else _("No") if value is False else _text(str(value))
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        labels = {
            o.get("code"): str(o.get("label") or o.get("code"))
            for o in question.get("options") or []
            if isinstance(o, dict)
        }
        codes = value if isinstance(value, list) else [value]
        return _text("、".join(labels.get(code, str(code)) for code in codes))
    if kind == QuestionKind.NUMBER and isinstance(value, int | float):
        return value
    if kind == QuestionKind.DATE and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return _free_text(value)
    return _free_text(str(value))


def _bold(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=_text(value))
    cell.font = Font(bold=True)
    return cell


def _level_headers() -> list[str]:
    labels = {
        "community": _("Community"),
        "grid": _("Grid"),
        "compound": _("Compound"),
        "building": _("Building"),
        "unit": _("Unit"),
        "dwelling": _("Dwelling"),
    }
    return [labels[level] for level in result_selectors.RESULT_LEVELS]


def _target_cells(row: result_selectors.ResultRow, yes: str, no: str) -> list[object]:
    target, person = row.target, row.target.person
    return [
        *(_text(name) for name in row.areas),
        _free_text(person.name),
        person.sex,
        person.age if person.age is not None else "",
        person.id_number,
        person.phone,
        person.residency,
        "、".join(person.tags),
        target.status_label,
        _local(target.reached_at),
        target.answered_via,
        (yes if target.answered_by_proxy else no) if target.reached_at else "",
        target.attempt_count,
        _local(target.last_attempt_at),
        target.door_knock_reason,
        target.risk_label,
        "、".join(target.follow_ups),
        _text("；".join(target.risk_reasons)),
        yes if target.complete else no,
    ]


def results_workbook(
    results: result_selectors.CampaignResults,
    *,
    exported_by: str,
    exported_by_name: str,
    at: datetime,
) -> tuple[IO[bytes], int]:
    """Writes the results into an .xlsx and returns the file (rewound, deleted when closed)
    and the number of target rows written.

    Two sheets: an about sheet (campaign, questionnaire version, the area exported, who
    exported it and when, the questions) and the results, one row per target. Both start
    with the watermark line and print it in their header.
    """
    campaign, version = results.campaign, results.version
    questions = questions_of(version.definition)
    mark = watermark(exported_by, at)
    yes, no = _("Yes"), _("No")
    book = Workbook(write_only=True)

    about = book.create_sheet(_("About"))
    about.oddHeader.center.text = mark
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 60
    about.append([_bold(about, mark)])
    about.append([])
    local_at = timezone.localtime(at)
    facts = [
        (_("Campaign"), campaign.name),
        (_("Status"), campaign.get_status_display()),
        (_("Area exported"), results.area.name),
        (_("Questionnaire"), version.questionnaire.name),
        (_("Questionnaire version"), str(version.number)),
        (_("Launched at"), _local(campaign.launched_at)),
        (_("Deadline"), _local(campaign.deadline)),
        (_("Emergency"), campaign.emergency),
        (_("Exported by"), f"{exported_by_name} ({exported_by})"),
        (_("Exported at"), f"{local_at:%Y-%m-%d %H:%M:%S}"),
        (_("Targets"), results.count),
    ]
    for label, value in facts:
        about.append(
            [_bold(about, label), _text(value) if isinstance(value, str) else (value or "")]
        )
    if not results.answers_visible:
        about.append([_text(_("Answers and risk are hidden for your role."))])
    about.append([])
    about.append([_bold(about, _("Question")), _bold(about, _("Text"))])
    for question in questions:
        about.append([_text(question.get("key", "")), _text(question.get("text", ""))])

    sheet = book.create_sheet(_("Results"))
    sheet.oddHeader.center.text = mark
    sheet.freeze_panes = "A3"
    headers = [
        *_level_headers(),
        _("Name"),
        _("Sex"),
        _("Age"),
        _("ID number"),
        _("Phone"),
        _("Residency"),
        _("Vulnerable groups"),
        _("Status"),
        _("Reached at"),
        _("Via channel"),
        _("By proxy"),
        _("Attempts"),
        _("Last attempt"),
        _("Door-knock reason"),
        _("Risk"),
        _("Follow-ups"),
        _("Reasons"),
        _("Complete"),
        *(str(q.get("text") or q.get("key")) for q in questions),
    ]
    for index in range(1, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 14
    sheet.append([_bold(sheet, mark)])
    sheet.append([_bold(sheet, header) for header in headers])
    written = 0
    for row in results.rows:
        if results.answers_visible:
            answers = [answer_value(q, row.answers.get(q.get("key"))) for q in questions]
        else:
            answers = [HIDDEN_TEXT] * len(questions)
        sheet.append([*_target_cells(row, yes, no), *answers])
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
