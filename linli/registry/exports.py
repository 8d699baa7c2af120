"""Files the registry hands back: rejected rows with their reasons."""

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from linli.core import identifiers
from linli.core.errors import CHINESE, ENGLISH, both_languages, in_language
from linli.core.spreadsheets import safe_cell, watermark
from linli.registry.models import ImportBatch, SourceRecord

ROW = _("Row")
REASON = _("Reason")


def reason_headers() -> list[str]:
    """Returns the first three column titles: the row number, the reason in Chinese, in
    English (the file goes back to a department, whoever opens it)."""
    return [both_languages(ROW), in_language(REASON, CHINESE), in_language(REASON, ENGLISH)]


def rejected_rows_csv(
    batch: ImportBatch, records: Iterable[SourceRecord], *, exported_by: str, at: datetime
) -> str:
    """Returns a CSV (with BOM, so Excel opens it as UTF-8) of the rejected rows: the row
    number, the reason in Chinese and English, then the row's cells as the file had them
    with ID numbers and phones masked (the department has its own file), under a watermark
    line saying who exported it and when."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([watermark(exported_by, at)])
    # The file's own column names are a department's text like its cells: defused the same way.
    writer.writerow(reason_headers() + [safe_cell(header) for header in batch.headers])
    for record in records:
        raw = json.loads(identifiers.decrypt(record.raw_encrypted)) if record.raw_encrypted else {}
        writer.writerow(
            [
                record.row_number,
                "；".join(e["zh"] for e in record.errors),
                "; ".join(e["en"] for e in record.errors),
                *(safe_cell(raw.get(h, "")) for h in batch.headers),
            ]
        )
    return out.getvalue()
