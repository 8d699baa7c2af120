"""Files the registry hands back: rejected rows with their reasons."""

import csv
import io
import json

from linli.core import identifiers
from linli.registry.models import ImportBatch, SourceRecord

REASON_HEADERS = ["行号 row", "错误原因", "reason"]


def rejected_rows_csv(batch: ImportBatch, records) -> str:
    """Returns a CSV (with BOM, so Excel opens it as UTF-8) of the rejected rows: the row
    number, the reason in Chinese and English, then the row's cells as the file had them, so
    the department can fix and re-send it."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(REASON_HEADERS + list(batch.headers))
    for record in records:
        record: SourceRecord
        raw = json.loads(identifiers.decrypt(record.raw_encrypted)) if record.raw_encrypted else {}
        writer.writerow(
            [
                record.row_number,
                "；".join(e["zh"] for e in record.errors),
                "; ".join(e["en"] for e in record.errors),
                *(raw.get(h, "") for h in batch.headers),
            ]
        )
    return out.getvalue()
