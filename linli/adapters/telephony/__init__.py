"""Telephony: the ways the phone robot places calls, each a Carrier with one contract
(linli.adapters.telephony.base), chosen per line by its kind.

    from linli.adapters import telephony

    carrier = telephony.get_carrier("sip", {"host": "sbc.example.net"}, password=..., max_calls=30)
    setup = await carrier.place_call(telephony.CallRequest(call_id="…", number="13812345678"))
    if setup.outcome == "answered":
        await setup.session.play(prompt)

Kinds: "simulated" (the local default: rings, answers and key presses drawn from rates, for
demos, tests and load tests), "sip" (direct SIP with RTP media from linli.adapters.media) and
"freeswitch" (FreeSWITCH over its event socket). A carrier is built from plain data: the line's
settings, its password and its number of concurrent calls; it knows nothing of who owns the
line. docs/adapters-telephony.md describes the carriers, their settings and their outcomes.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.module_loading import import_string

from linli.adapters.telephony.base import (
    DIGITS,
    FRAME_BYTES,
    FRAME_MS,
    SAMPLE_RATE,
    CallRequest,
    CallSession,
    CallSetup,
    Carrier,
    HungUp,
    Prompt,
    outcome_for_status,
)

__all__ = [
    "CARRIERS",
    "DEFAULT_CARRIER",
    "DIGITS",
    "FRAME_BYTES",
    "FRAME_MS",
    "SAMPLE_RATE",
    "CallRequest",
    "CallSession",
    "CallSetup",
    "Carrier",
    "HungUp",
    "Prompt",
    "get_carrier",
    "outcome_for_status",
]

# The carrier class of each kind (imported when a line of that kind is first built, so a
# deployment on FreeSWITCH never loads the SIP stack and the other way round).
CARRIERS = {
    "simulated": "linli.adapters.telephony.simulated.SimulatedCarrier",
    "sip": "linli.adapters.telephony.sip.carrier.SipCarrier",
    "freeswitch": "linli.adapters.telephony.freeswitch.FreeSwitchCarrier",
}
DEFAULT_CARRIER = "simulated"


def get_carrier(
    kind: str = DEFAULT_CARRIER,
    settings: Mapping[str, Any] | None = None,
    *,
    password: str = "",
    max_calls: int | None = None,
) -> Carrier:
    """Returns a new carrier of the given kind built from a line's settings.

    `password` is the line's secret (read by its owner from the environment, never stored in
    the settings); `max_calls` its concurrent calls (None: the carrier's own default). Raises
    ValueError for an unknown kind or settings the carrier cannot use.
    """
    if kind not in CARRIERS:
        raise ValueError(f"unknown carrier {kind!r}")
    carrier_class = import_string(CARRIERS[kind])
    carrier: Carrier = carrier_class.from_settings(
        settings or {}, password=password, max_calls=max_calls
    )
    return carrier
