"""Files the registry hands back: rejected rows with their reasons."""

import csv
import io
import json

from linli.core import identifiers
from linli.core.spreadsheets import safe_cell
from linli.registry.models import ImportBatch, SourceRecord

REASON_HEADERS = ["行号 row", "错误原因", "reason"]


def rejected_rows_csv(batch: ImportBatch, records, *, exported_by: str, at: str) -> str:
    """Returns a CSV (with BOM, so Excel opens it as UTF-8) of the rejected rows: the row
    number, the reason in Chinese and English, then the row's cells as the file had them
    with ID numbers and phones masked (the department has its own file), under a watermark
    line saying who exported it and when."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [f"邻里导出 / exported from Linli: {exported_by} {at} — 仅供核对更正 / for correction only"]
    )
    writer.writerow(REASON_HEADERS + list(batch.headers))
    for record in records:
        record: SourceRecord
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
