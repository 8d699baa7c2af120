"""Today's date, cheaply: validators compare every birth date of an import with it.

date.today() reads the clock and converts it to local time on every call (about a
microsecond); an import of 50,000 rows asks tens of thousands of times. local_today() reads
the clock and answers from the date it last worked out while the clock is still within that
local day.
"""

import time
from datetime import date, datetime, timedelta

# (today, the timestamps its local day starts and ends at, the time zone it was worked out in)
_cached: tuple[date, float, float, tuple[object, ...]] | None = None


def _zone() -> tuple[object, ...]:
    # Django sets TZ and calls time.tzset() when TIME_ZONE is set or overridden (tests);
    # that changes what "today" means, so the cached day is kept only in the same zone.
    return (time.tzname, time.timezone, time.altzone)


def local_today() -> date:
    """Returns date.today(), the local date, as of the moment of the call."""
    global _cached
    now = time.time()
    cached = _cached
    if cached is not None and cached[1] <= now < cached[2] and cached[3] == _zone():
        return cached[0]
    today = date.fromtimestamp(now)
    # Local midnights through datetime.timestamp() (mktime), which follows DST changes.
    starts = datetime.combine(today, datetime.min.time()).timestamp()
    ends = datetime.combine(today + timedelta(days=1), datetime.min.time()).timestamp()
    _cached = (today, starts, ends, _zone())
    return today


# The work-order engine's deadlines and escalation read the time through now(), so a test, a
# bench or a browser story can move the whole product forward (advance) without sleeping: the
# live server of the browser tests runs in the test's process and sees the same offset.
_offset = timedelta(0)


def now() -> datetime:
    """Returns the current aware time (django.utils.timezone.now), moved by advance()."""
    from django.utils import timezone

    return timezone.now() + _offset


def advance(by: timedelta) -> None:
    """Moves now() forward by `by` (tests and benches only)."""
    global _offset
    _offset += by


def reset() -> None:
    """Puts now() back on the real clock."""
    global _offset
    _offset = timedelta(0)
