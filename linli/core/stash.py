"""An uploaded file kept between its preview and its confirmation.

A go-live import is previewed without writing and confirmed later, in another request; the
browser cannot send the file twice, so the server keeps it (private media storage, under a
random name) and the session remembers which one is whose. Nothing else can name it.
"""

import secrets
from datetime import timedelta
from pathlib import PurePath

from django.contrib.sessions.backends.base import SessionBase
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

_FOLDER = "stash"
# A preview nobody confirmed leaves its file behind; the next upload sweeps those older than
# this (a file of residents' homes must not linger on the server).
KEEP_FOR = timedelta(hours=12)


def keep(session: SessionBase, purpose: str, *, data: bytes, file_name: str) -> None:
    """Stores the file for this session and purpose (replacing the previous one)."""
    drop(session, purpose)
    _sweep()
    suffix = PurePath(file_name).suffix.lower()[:8]
    stored = default_storage.save(f"{_FOLDER}/{secrets.token_hex(16)}{suffix}", ContentFile(data))
    session[f"stash:{purpose}"] = {"stored": stored, "name": file_name}


def load(session: SessionBase, purpose: str) -> tuple[bytes, str] | None:
    """Returns (data, original file name) kept for this session and purpose, or None."""
    entry = session.get(f"stash:{purpose}")
    if not entry or not default_storage.exists(entry["stored"]):
        return None
    with default_storage.open(entry["stored"], "rb") as handle:
        return handle.read(), entry["name"]


def drop(session: SessionBase, purpose: str) -> None:
    """Deletes the kept file, if any."""
    entry = session.pop(f"stash:{purpose}", None)
    if entry and default_storage.exists(entry["stored"]):
        default_storage.delete(entry["stored"])


def _sweep() -> None:
    """Deletes kept files older than KEEP_FOR, whoever's they were."""
    if not default_storage.exists(_FOLDER):
        return
    cutoff = timezone.now() - KEEP_FOR
    for name in default_storage.listdir(_FOLDER)[1]:
        path = f"{_FOLDER}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
