"""Exports of screening results: the workbook is built by `linli.screening.exports` from the
results the user may see; writing it is recorded in the audit log here, in one place."""

from dataclasses import dataclass
from datetime import datetime
from typing import IO

from django.utils import timezone

from linli.areas.models import Area
from linli.audit.models import AuditAction
from linli.core.actors import Actor, AuditContext
from linli.screening import exports
from linli.screening.auditing import record_campaign_event
from linli.screening.selectors import results as result_selectors


class TooManyRows(Exception):
    """The results do not fit one Excel sheet; the user exports a smaller area."""


@dataclass(frozen=True)
class ResultsExport:
    """The workbook (rewound, deleted when closed), the rows written and when."""

    file: IO[bytes]
    rows: int
    at: datetime


def export_results(
    *,
    results: result_selectors.CampaignResults,
    area: Area,
    by: Actor,
    context: AuditContext | None = None,
    now: datetime | None = None,
) -> ResultsExport:
    """Writes the results the user may see (result_selectors.campaign_results, masked by role)
    into a watermarked .xlsx and records the export in the audit log (what, how many rows,
    which area and questionnaire version). Returns the export.

    Raises TooManyRows when the results exceed one sheet (nothing is written or recorded).
    """
    if results.count > exports.MAX_ROWS:
        raise TooManyRows(results.count)
    at = now or timezone.now()
    file, written = exports.results_workbook(
        results, exported_by=by.get_username(), exported_by_name=str(by), at=at
    )
    campaign = results.campaign
    record_campaign_event(
        AuditAction.EXPORT,
        campaign=campaign,
        by=by,
        context=context,
        area_path=area.path,
        detail={
            "what": "screening results",
            "rows": written,
            "area": area.pk,
            "questionnaire_version": results.version.number,
        },
    )
    return ResultsExport(file=file, rows=written, at=at)
