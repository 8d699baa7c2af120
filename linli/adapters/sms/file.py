"""A backend that appends messages to a JSON-lines file per day, and reads them back."""

import json
import os
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import TypedDict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from linli.adapters.sms.base import BaseSmsBackend
from linli.adapters.sms.message import SmsMessage, SmsResult

_write_lock = threading.Lock()


class OutboxRecord(TypedDict):
    """One line of an outbox file."""

    id: str
    sent_at: str  # ISO 8601 with offset, local time
    to: str  # the full number
    text: str
    reference: str
    segments: int


def default_folder() -> Path:
    """Returns settings.LINLI_SMS_FILE_PATH, or <VAR_DIR>/sms when it is not set."""
    configured = getattr(settings, "LINLI_SMS_FILE_PATH", None)
    if configured:
        return Path(configured)
    return Path(getattr(settings, "VAR_DIR", "var")) / "sms"


class FileBackend(BaseSmsBackend):
    """Appends each message as one JSON line to <folder>/<YYYY-MM-DD>.jsonl (local date).

    The embedded mode, demos and browser tests use it to see what would have been sent and
    to follow the links in it (read_outbox). Each line is written with a single append, so
    web and task workers on one machine may share a folder. The files hold full numbers and
    links: they are created readable by their owner only. Every message is accepted with a
    provider id "file-<hex>", which is the record's `id`.

    Raises ImproperlyConfigured when the folder cannot be created.
    """

    def __init__(self, *, folder: str | Path | None = None, **options: object) -> None:
        super().__init__(**options)
        self.folder = Path(folder) if folder else default_folder()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"LINLI_SMS_FILE_PATH {str(self.folder)!r} is not a usable folder: {exc}"
            ) from exc

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        """Appends the messages to today's file; returns an accepted result for each."""
        if not messages:
            return []
        now = timezone.localtime()
        path = self.folder / f"{now.date().isoformat()}.jsonl"
        results: list[SmsResult] = []
        lines: list[bytes] = []
        for message in messages:
            record: OutboxRecord = {
                "id": f"file-{uuid.uuid4().hex}",
                "sent_at": now.isoformat(timespec="seconds"),
                "to": message.to,
                "text": message.text,
                "reference": message.reference,
                "segments": message.segments,
            }
            lines.append((json.dumps(record, ensure_ascii=False) + "\n").encode())
            results.append(message.result(accepted=True, provider_id=record["id"]))
        with _write_lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                for line in lines:
                    # One write per line: an O_APPEND write lands whole, even when another
                    # process appends to the same file.
                    os.write(fd, line)
            finally:
                os.close(fd)
        return results


def read_outbox(folder: str | Path | None = None, *, day: date | None = None) -> list[OutboxRecord]:
    """Returns the messages written by FileBackend to `folder`, oldest first.

    `folder` defaults to the backend's (LINLI_SMS_FILE_PATH); `day` limits the result to one
    day's file. A folder that does not exist yet gives an empty list.
    """
    root = Path(folder) if folder else default_folder()
    if day is not None:
        paths = [root / f"{day.isoformat()}.jsonl"]
    else:
        paths = sorted(root.glob("????-??-??.jsonl"))
    records: list[OutboxRecord] = []
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records
