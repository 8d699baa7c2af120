"""The interface every telephony adapter implements: what a dialogue needs from a call, and
what a dialer needs from a carrier. Every carrier (direct SIP, FreeSWITCH, the simulated
carrier) implements `Carrier` and hands answered calls over as a `CallSession`; the phone
robot's dialogue and dialer (linli.voice) know nothing else about them.

Audio everywhere is 8 kHz mono G.711 μ-law (PCMU), the telephone network's own format, so a
prompt synthesised once is sent as it is stored.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # one μ-law byte per sample: 160 per RTP packet

# Keypad answers (DTMF) as the dialogue reads them.
DIGITS = "0123456789*#"


class HungUp(Exception):
    """Raised by a CallSession operation when the far end has hung up (or the line dropped)."""


@dataclass(frozen=True)
class Prompt:
    """One spoken prompt: `name` says its place in the script (intro, identity, q:<key>,
    closing, invalid, no_input, transfer, goodbye), `text` is what it says (kept in the
    transcript), `audio` the 8 kHz μ-law samples. `answers` are key sequences that answer the
    prompt validly ("1", "2", "365#"; empty for a prompt that only speaks): plain data a
    simulated callee presses from, whatever the questionnaire; a real carrier ignores them."""

    name: str
    text: str
    audio: bytes
    answers: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class CallSession(ABC):
    """An answered call as the dialogue sees it. Implementations must be safe to use from one
    asyncio task; every method raises HungUp once the call is over."""

    @abstractmethod
    async def play(self, prompt: Prompt, *, barge_in: bool = True) -> str:
        """Plays the prompt. With barge_in, the first key pressed stops the prompt; returns
        the digits pressed while it played ('' if none). Keys pressed are never lost: digits
        not returned here are returned by the next collect()."""

    @abstractmethod
    async def collect(
        self,
        *,
        max_digits: int,
        first_timeout: float,
        inter_digit_timeout: float = 3.0,
        terminators: str = "#",
    ) -> str:
        """Waits for keypad input: returns the digits (without the terminator) once
        max_digits were pressed, a terminator was pressed, or a timeout passed ('' when
        nothing was pressed within first_timeout)."""

    def start_listening(self) -> bool:
        """Starts keeping what the far end says, for a spoken answer (linli.adapters.asr).
        Returns False when this session cannot hear speech (the default: keypad only)."""
        return False

    def stop_listening(self) -> bytes:
        """Stops listening and returns the 8 kHz μ-law audio heard since start_listening()
        (b"" when nothing was kept)."""
        return b""

    @abstractmethod
    async def hangup(self) -> None:
        """Ends the call from our side (idempotent)."""

    @property
    @abstractmethod
    def hung_up(self) -> bool:
        """Whether the call is over."""


@dataclass(frozen=True)
class CallRequest:
    """One call to place. `call_id` is unique per attempt and doubles as the attempt's
    idempotency key, so a dialer restarted after a crash never records an attempt twice."""

    call_id: str
    number: str  # an 11-digit mobile or a fixed-line number, digits only
    caller_id: str = ""
    ring_timeout: float = 30.0


@dataclass
class CallSetup:
    """How a call attempt started: `outcome` is an AttemptOutcome value; when "answered",
    `session` is the live call. `sip_status` is the final status the carrier gave (200 when
    answered), `detail` carrier specifics for the attempt record (never the number)."""

    outcome: str
    session: CallSession | None = None
    sip_status: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # An answered call's dialog as `Carrier.end_dialog` needs it to hang up from another
    # process (plain JSON data; it may hold the number, so its keeper encrypts it).
    dialog: dict[str, Any] | None = None


class Carrier(ABC):
    """A way to place calls: direct SIP, FreeSWITCH, or the simulated carrier."""

    name: str = ""

    @abstractmethod
    async def place_call(self, request: CallRequest) -> CallSetup:
        """Places the call and waits until it is answered or has failed (ring_timeout
        included). Never raises for a call that did not connect: that is an outcome."""

    async def close(self) -> None:  # noqa: B027 - most carriers hold nothing to release
        """Releases the carrier's resources (sockets, connections)."""

    async def end_dialog(self, dialog: dict[str, Any]) -> bool:
        """Hangs up a call another process answered and left open (it died): `dialog` is the
        CallSetup.dialog it kept. Returns whether a hang-up was sent (False: this carrier
        keeps no dialog across processes)."""
        return False


def outcome_for_status(status: int) -> str:
    """Classifies a final SIP status of an INVITE (RFC 3261 §21) into an AttemptOutcome
    value: 2xx answered; 486/600 busy; 480/408/487 no answer; 404/484/604 wrong number;
    603 refused (declined); everything else failed."""
    if 200 <= status < 300:
        return "answered"
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "no_answer"
    if status in (404, 484, 604):
        return "wrong_number"
    if status == 603:
        return "refused"
    return "failed"
