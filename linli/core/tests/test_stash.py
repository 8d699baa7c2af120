"""A file kept between a preview and its confirmation, and swept when nobody confirms."""

import os
import time

from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.files.storage import default_storage

from linli.core import stash


def test_kept_loaded_dropped_and_old_ones_swept():
    session = SessionStore()
    stash.keep(session, "areas", data=b"abc", file_name="区域.xlsx")
    assert stash.load(session, "areas") == (b"abc", "区域.xlsx")
    stored = session["stash:areas"]["stored"]
    old = time.time() - 13 * 3600
    os.utime(default_storage.path(stored), (old, old))
    other = SessionStore()
    stash.keep(other, "areas", data=b"x", file_name="b.csv")
    assert not default_storage.exists(stored)
    assert stash.load(session, "areas") is None
    stash.drop(other, "areas")
    assert stash.load(other, "areas") is None
