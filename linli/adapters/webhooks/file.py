"""The local default: one JSON line per message in <folder>/<YYYY-MM-DD>.jsonl."""

import json
import os
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from linli.adapters.webhooks.base import BaseWebhookBackend, WebhookMessage, WebhookResult

_write_lock = threading.Lock()


def default_folder() -> Path:
    """Returns settings.LINLI_WEBHOOK_FILE_PATH, or <VAR_DIR>/webhooks."""
    configured = getattr(settings, "LINLI_WEBHOOK_FILE_PATH", None)
    if configured:
        return Path(configured)
    return Path(getattr(settings, "VAR_DIR", "var")) / "webhooks"


class FileBackend(BaseWebhookBackend):
    """Logs what would have been posted, one O_APPEND write per line (web and task workers
    may share the folder). Raises ImproperlyConfigured when the folder cannot be made."""

    def __init__(self, *, folder: str | Path | None = None, **options: object) -> None:
        super().__init__(**options)
        self.folder = Path(folder) if folder else default_folder()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"LINLI_WEBHOOK_FILE_PATH {str(self.folder)!r} is not a usable folder: {exc}"
            ) from exc

    def send_messages(self, messages: list[WebhookMessage]) -> list[WebhookResult]:
        """Appends the messages to today's file; accepts each."""
        now = timezone.localtime()
        path = self.folder / f"{now.date().isoformat()}.jsonl"
        results = []
        with _write_lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                for message in messages:
                    record_id = f"file-{uuid.uuid4().hex}"
                    line = {
                        "id": record_id,
                        "sent_at": now.isoformat(timespec="seconds"),
                        "text": message.text,
                        "reference": message.reference,
                        "data": message.data,
                    }
                    os.write(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode())
                    results.append(
                        WebhookResult(message.reference, accepted=True, provider_id=record_id)
                    )
            finally:
                os.close(fd)
        return results


def read_log(folder: str | Path | None = None) -> list[dict]:
    """Returns every message the file backend wrote to `folder`, oldest first."""
    root = Path(folder) if folder else default_folder()
    records: list[dict] = []
    for path in sorted(root.glob("????-??-??.jsonl")):
        with path.open(encoding="utf-8") as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records
