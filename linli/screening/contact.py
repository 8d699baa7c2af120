"""The facts of each way of contact that writes and reads rely on, free of the channel registry.

Which outcomes a channel can report, whether it reaches people without a worker at their door,
and whom it can reach at all (a condition over Person). `channels` builds the registered
channels on these facts and calls into the services to record attempts; the services and
selectors read the facts here, so neither side imports the other.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from linli.screening.models import AttemptOutcome, ChannelCode
from linli.screening.targeting import without_smartphone

# Outcomes that may carry answers: a call can end in a hang-up after three questions, and a
# resident can answer some questions and refuse the rest.
# A call our side cut (a crashed dialer) keeps the answers given before it.
ANSWER_BEARING = {
    AttemptOutcome.ANSWERED,
    AttemptOutcome.HUNG_UP,
    AttemptOutcome.REFUSED,
    AttemptOutcome.INTERRUPTED,
}

# Outcomes each channel can report (a door knock has no wrong number, a call no "not at home").
CHANNEL_OUTCOMES: dict[str, frozenset[str]] = {
    ChannelCode.H5.value: frozenset(
        {AttemptOutcome.ANSWERED, AttemptOutcome.REFUSED, AttemptOutcome.FAILED}
    ),
    ChannelCode.PHONE.value: frozenset(AttemptOutcome.values) - {AttemptOutcome.NOT_AT_HOME},
    ChannelCode.DOOR_KNOCK.value: frozenset(
        {
            AttemptOutcome.ANSWERED,
            AttemptOutcome.NOT_AT_HOME,
            AttemptOutcome.REFUSED,
            AttemptOutcome.FAILED,
        }
    ),
}
# Channels that reach a person without a worker at their door (they count for escalation).
REMOTE_CHANNELS = frozenset({ChannelCode.H5.value, ChannelCode.PHONE.value})


@dataclass(frozen=True)
class Dispatch:
    """What a channel's send() started: its own reference (SMS id, call id) and when."""

    channel: str
    target_id: int
    reference: str
    at: datetime


def _has_phone() -> Q:
    return ~Q(phone_hash="")


def reachable_by(code: str) -> Q:
    """Returns the condition (over Person) for people the channel `code` can reach at all: a
    phone for the robot, a phone and a smartphone for an H5 link, a dwelling for a door knock.
    Raises LookupError for an unknown code."""
    if code == ChannelCode.H5:
        return _has_phone() & ~without_smartphone()
    if code == ChannelCode.PHONE:
        return _has_phone()
    if code == ChannelCode.DOOR_KNOCK:
        return Q(dwelling__isnull=False)
    raise LookupError(f"no channel {code!r}")


def remote_reach(codes: list[str]) -> Q | None:
    """Returns the condition (over Person) for people some remote channel among `codes` can
    reach, or None when none of them is remote."""
    conditions = [reachable_by(code) for code in codes if code in REMOTE_CHANNELS]
    if not conditions:
        return None
    reach = conditions[0]
    for condition in conditions[1:]:
        reach |= condition
    return reach
