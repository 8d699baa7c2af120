"""The simulated carrier: calls that ring, get answered or not, and residents (personas) who
press keys, for demos, tests and load tests.

Every delay is an asyncio sleep on the running loop, so under the dialer's VirtualClock a call
takes virtual seconds (ring time, prompts played at their real length) and no real time.
Outcomes are drawn per call from configured rates with a random generator seeded by the call
id, so a run is reproducible; tests pin outcomes and personas per number.
"""

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from linli.adapters.telephony.base import (
    CallRequest,
    CallSession,
    CallSetup,
    Carrier,
    HungUp,
    Prompt,
)

# SIP final status of each outcome as a real carrier reports it (base.outcome_for_status).
STATUS_OF = {
    "answered": 200,
    "busy": 486,
    "no_answer": 480,
    "wrong_number": 404,
    "refused": 603,
    "failed": 503,
}
# Prompts nobody answers: they only speak.
SPOKEN_ONLY = ("intro", "closing", "invalid", "no_input", "transfer", "goodbye")


@dataclass(frozen=True)
class Persona:
    """How a simulated resident behaves once they pick up.

    `keys`: digits pressed after a prompt, by prompt name ("identity", "q:temperature");
    for any other prompt, `default_keys` when the prompt accepts them (Prompt.answers), else
    one of the prompt's own answers drawn at random, so a resident answers any questionnaire
    (None: nothing, for a prompt that lists no answers). `delay`: seconds into the
    prompt (or after it) when they press. `silent`: never presses anything. `hang_up_after`:
    hangs up while the prompt after that many prompts plays (None: never)."""

    name: str
    default_keys: str | None = "1"
    keys: Mapping[str, str] = field(default_factory=dict)
    delay: float = 2.0
    silent: bool = False
    hang_up_after: int | None = None
    barge_in: bool = False  # presses while the prompt still plays

    def response(self, prompt: Prompt, rng: random.Random | None = None) -> str | None:
        """Returns the keys pressed after the prompt (None: nothing)."""
        if self.silent or prompt.name in SPOKEN_ONLY:
            return None
        if prompt.name in self.keys:
            return self.keys[prompt.name]
        if not prompt.answers:
            return self.default_keys
        if self.default_keys is not None and self.default_keys in prompt.answers:
            return self.default_keys
        return (rng or random.Random(prompt.name)).choice(prompt.answers)


# A healthy resident of the daily-symptoms questionnaire: it is them, 36.5 degrees, none of
# the symptoms, no to the yes/no questions, tested today.
HEALTHY_KEYS = {"identity": "1", "q:temperature": "365#", "q:tested_today": "1"}

PERSONAS = {
    "healthy": Persona("healthy", default_keys="2", keys=HEALTHY_KEYS),
    # Presses 1 wherever 1 answers: yes to everything, the first option of a choice.
    "presses_1": Persona("presses_1"),
    # Has a fever (38.5) and says so when asked about it.
    "fever": Persona(
        "fever",
        default_keys="2",
        keys={**HEALTHY_KEYS, "q:temperature": "385#", "q:symptoms": "1", "q:symptoms:fever": "1"},
    ),
    "silent": Persona("silent", silent=True),
    # Picks up, answers, and hangs up while the fourth prompt plays.
    "hangs_up": Persona("hangs_up", default_keys="2", keys=HEALTHY_KEYS, hang_up_after=3),
    # Knows the drill: presses while the prompt still plays.
    "impatient": Persona(
        "impatient", default_keys="2", keys=HEALTHY_KEYS, delay=0.5, barge_in=True
    ),
}


@dataclass(frozen=True)
class Rates:
    """How calls end, as fractions (the rest of 1.0 fails)."""

    answer: float = 0.6
    no_answer: float = 0.15
    busy: float = 0.10
    wrong_number: float = 0.05

    def draw(self, rng: random.Random) -> str:
        x = rng.random()
        for outcome, share in (
            ("answered", self.answer),
            ("no_answer", self.no_answer),
            ("busy", self.busy),
            ("wrong_number", self.wrong_number),
        ):
            if x < share:
                return outcome
            x -= share
        return "failed"


@dataclass
class CallRecord:
    """One call as the simulated network saw it (for tests: no number is needed elsewhere)."""

    call_id: str
    number: str
    placed_at: float  # loop time
    outcome: str
    answered_at: float | None = None
    ended_at: float | None = None
    prompts: list[str] = field(default_factory=list)


class SimulatedSession(CallSession):
    """An answered simulated call: plays prompts at their length, presses the persona's keys."""

    def __init__(
        self,
        carrier: "SimulatedCarrier",
        record: CallRecord,
        persona: Persona,
        rng: random.Random | None = None,
    ):
        self._carrier = carrier
        self._record = record
        self._persona = persona
        self._rng = rng or random.Random(record.call_id)
        self._buffer = ""
        self._pending: tuple[float, str] | None = None  # (loop time, digits) still to press
        self._hung_up = False
        self._played = 0

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def _check(self) -> None:
        if self._hung_up:
            raise HungUp()

    def _end(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            self._record.ended_at = asyncio.get_running_loop().time()
            self._carrier._ended(self._record)

    async def play(self, prompt: Prompt, *, barge_in: bool = True) -> str:
        self._check()
        loop = asyncio.get_running_loop()
        self._played += 1
        self._record.prompts.append(prompt.name)
        limit = self._persona.hang_up_after
        if limit is not None and self._played > limit:
            await asyncio.sleep(min(prompt.seconds, 1.0))
            self._end()
            raise HungUp()
        keys = self._persona.response(prompt, self._rng)
        length = prompt.seconds
        if keys and barge_in and self._persona.barge_in and self._persona.delay < length:
            await asyncio.sleep(self._persona.delay)
            self._check()
            self._buffer += keys
            first, self._buffer = self._buffer[:1], self._buffer[1:]
            return first
        await asyncio.sleep(length)
        self._check()
        if keys:
            self._pending = (loop.time() + self._persona.delay, keys)
        return ""

    async def collect(
        self,
        *,
        max_digits: int,
        first_timeout: float,
        inter_digit_timeout: float = 3.0,
        terminators: str = "#",
    ) -> str:
        self._check()
        loop = asyncio.get_running_loop()
        if not self._buffer and self._pending is not None:
            at, keys = self._pending
            wait = at - loop.time()
            if wait > first_timeout:
                await asyncio.sleep(first_timeout)
                self._check()
                return ""
            self._pending = None
            await asyncio.sleep(max(0.0, wait))
            self._check()
            self._buffer += keys
        if not self._buffer:
            await asyncio.sleep(first_timeout)
            self._check()
            return ""
        digits = ""
        while self._buffer and len(digits) < max_digits:
            key, self._buffer = self._buffer[0], self._buffer[1:]
            if key in terminators:
                return digits
            digits += key
        if len(digits) < max_digits:
            # No terminator pressed: the keypad waits out the pause after the last digit.
            await asyncio.sleep(inter_digit_timeout)
            self._check()
        return digits

    async def hangup(self) -> None:
        self._end()


class SimulatedCarrier(Carrier):
    """A carrier in software: outcome rates, ring times and personas, per number if needed.

    `outcomes` / `personas` pin a number's outcome or persona (tests); otherwise outcomes
    follow `rates` and personas are drawn from `persona_mix` (name → weight). Every call is
    kept in `calls` with its loop times; `active` counts the calls ringing or on, per number
    too, and `max_active` the most at once."""

    name = "simulated"

    def __init__(
        self,
        *,
        rates: Rates | None = None,
        ring_seconds: tuple[float, float] = (3.0, 12.0),
        fail_seconds: float = 1.0,
        persona_mix: Mapping[str, float] | None = None,
        outcomes: Mapping[str, str] | None = None,
        personas: Mapping[str, Persona] | None = None,
        seed: int = 7,
        keep_calls: bool = True,
    ):
        self.rates = rates or Rates()
        self.ring_seconds = ring_seconds
        self.fail_seconds = fail_seconds
        self.persona_mix = dict(persona_mix or {"healthy": 1.0})
        self.outcomes = dict(outcomes or {})
        self.personas = dict(personas or {})
        self.seed = seed
        self.keep_calls = keep_calls
        self.calls: list[CallRecord] = []
        self.active = 0
        self.max_active = 0
        self.active_by_number: dict[str, int] = {}
        self.overlapping_numbers: set[str] = set()
        self.placed = 0

    @classmethod
    def from_settings(
        cls, settings: Mapping, *, password: str = "", max_calls: int | None = None
    ) -> "SimulatedCarrier":
        """Builds one from a line's settings: {"rates": {...}, "ring_seconds": [3, 12],
        "persona_mix": {...}, "seed": 7}. The simulated carrier has no password and no line
        limit: `password` and `max_calls` are accepted so every carrier is built alike."""
        rates = Rates(**settings["rates"]) if settings.get("rates") else None
        ring = tuple(settings.get("ring_seconds", (3.0, 12.0)))
        return cls(
            rates=rates,
            ring_seconds=(float(ring[0]), float(ring[1])),
            persona_mix=settings.get("persona_mix"),
            seed=int(settings.get("seed", 7)),
            keep_calls=bool(settings.get("keep_calls", False)),
        )

    def _persona_for(self, number: str, rng: random.Random) -> Persona:
        if number in self.personas:
            return self.personas[number]
        names = list(self.persona_mix)
        name = rng.choices(names, weights=[self.persona_mix[n] for n in names])[0]
        return PERSONAS[name]

    def _started(self, record: CallRecord) -> None:
        self.placed += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        count = self.active_by_number.get(record.number, 0) + 1
        self.active_by_number[record.number] = count
        if count > 1:
            self.overlapping_numbers.add(record.number)
        if self.keep_calls:
            self.calls.append(record)

    def _ended(self, record: CallRecord) -> None:
        self.active -= 1
        left = self.active_by_number.get(record.number, 1) - 1
        if left:
            self.active_by_number[record.number] = left
        else:
            self.active_by_number.pop(record.number, None)

    async def place_call(self, request: CallRequest) -> CallSetup:
        loop = asyncio.get_running_loop()
        rng = random.Random(f"{self.seed}:{request.call_id}")
        outcome = self.outcomes.get(request.number) or self.rates.draw(rng)
        record = CallRecord(request.call_id, request.number, loop.time(), outcome)
        self._started(record)
        try:
            if outcome == "answered":
                await asyncio.sleep(rng.uniform(*self.ring_seconds))
                record.answered_at = loop.time()
                persona = self._persona_for(request.number, rng)
                session = SimulatedSession(self, record, persona, rng)
                return CallSetup("answered", session, 200, {"carrier": self.name})
            if outcome == "no_answer":
                await asyncio.sleep(request.ring_timeout)
            else:
                await asyncio.sleep(self.fail_seconds)
        except BaseException:
            record.ended_at = loop.time()
            self._ended(record)
            raise
        record.ended_at = loop.time()
        self._ended(record)
        return CallSetup(outcome, None, STATUS_OF[outcome], {"carrier": self.name})
