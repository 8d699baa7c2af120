import time
from datetime import date

from linli.core import clock


def test_local_today_is_todays_date():
    """The cached date is date.today(), on a first call and on a cached one."""
    assert clock.local_today() == date.today()
    assert clock.local_today() == date.today()


def test_local_today_moves_on_at_midnight(monkeypatch):
    """Once the clock passes the end of the cached day, the next day is worked out afresh."""
    today = clock.local_today()
    tomorrow_noon = time.mktime((*today.timetuple()[:2], today.day + 1, 12, 0, 0, 0, 0, -1))
    monkeypatch.setattr(clock.time, "time", lambda: tomorrow_noon)
    assert clock.local_today() == date.fromtimestamp(tomorrow_noon)
    assert clock.local_today() != today
