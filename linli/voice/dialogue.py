"""The phone robot's conversation (IVR): intro, identity check, the questionnaire by keypad,
closing.

One call, one `run_dialogue`: it speaks the prompts of a Script (linli.voice.script) over a
CallSession (linli.adapters.telephony.base) and returns what happened as a DialogueResult. Branching
and answer checking are the questionnaire module's (`route`, `validate_answer`), the very ones
the H5 page uses, so a phone answer is stored exactly as a typed one would be.

How a call goes:

- The intro (who calls, why, on which legal basis) is played without barge-in: the legal notice
  is heard in full. Keys the session reports as pressed during it, or during the short
  "输入有误" / "没有听到" notices, are kept in the transcript but not taken as answers (a key
  pressed before the question was asked answers nothing). Question prompts allow barge-in: a
  resident who knows the answer presses it at once.
- Identity: the prompt names the person; with an `identity` source (the dialer's prompts made
  ahead) one not ready in time gives way to the generic prompt, which names nobody, rather than
  silence. 1 → the person; 2 → "are you family willing to answer for them?" 1 → by proxy,
  2 → outcome refused, nothing asked.
- Each question: up to `max_tries` attempts. No key → "没有听到您的按键" and again; a wrong key
  or an answer validate_answer refuses (a temperature of 50) → "输入有误" and again; 9 repeats
  the prompt (not counted, up to MAX_REPEATS times); 0 asks for a person. For typed entries
  (number, date) an entry of just 9 or 0 is the command; a leading 9/0 acts at once when no
  valid answer can start with it (a temperature, a date).
- After each validated answer `on_answer(key, value)` is awaited, so the dialer saves answer by
  answer. An optional question skipped with * is stored as None.

Outcomes (AttemptOutcome values):

- answered: every required question the phone can ask, on the path the answers lead, was
  answered (questions the keypad cannot take, short_text, are left for the door knock and do
  not count). Also after 0 (transfer to a person) once some answers were given: the person was
  reached and `wants_person` tells the dialer to arrange the call back; with no answers yet a
  transfer is failed.
- hung_up: the far end hung up before that (with the answers given so far), or the robot gave
  up on a required question after `max_tries` (the call ended mid-way: the dialer's rules for
  "hung up mid-way" retry it); a give-up before any answer is failed.
- refused: not the person and no family member willing to answer.
- failed: nothing usable: the identity check got no valid key, or a give-up/transfer before
  the first answer.

An optional question the robot gives up on is passed over (the call goes on).

Speech: with a `recogniser` (linli.adapters.asr, when the operator configured a model) and a
session that can listen, a yes/no question (the identity check, the family-member question,
yes/no questions and the items of a multiple choice) also takes a spoken answer: when no key
comes after the prompt, what was said while the robot waited is recognised and read by the
keyword grammar (是/对/有/去过 → 1, 不是/没有/没去过 → 2; unclear speech counts as an invalid
key). Keys always win, and every other question takes keys only.
"""

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

from linli.adapters.asr import Recogniser, yes_no_from_speech
from linli.adapters.telephony.base import CallSession, HungUp, Prompt
from linli.core.clock import local_today
from linli.screening.questionnaires.answers import validate_answer
from linli.screening.questionnaires.routing import route
from linli.screening.questionnaires.schema import AnswerError
from linli.voice.script import (
    CLOSING,
    GENERIC_IDENTITY,
    GIVE_UP,
    GOODBYE,
    INTRO,
    INVALID,
    NO_INPUT,
    PERSON_KEY,
    PROXY,
    REPEAT_KEY,
    TRANSFER,
    Script,
    Step,
    cached_identity,
    identity_prompt,
    questions_by_key,
)

log = logging.getLogger(__name__)

MAX_TRIES = 3
MAX_REPEATS = 5  # presses of 9 on one prompt before they count as wrong keys
FIRST_TIMEOUT = 8.0  # seconds to wait for the first key after a prompt; elderly need time
INTER_DIGIT_TIMEOUT = 4.0
SKIP_KEY = "*"

# Gives the identity prompt of a masked name, or None when it is not ready in time.
IdentitySource = Callable[[Script, str], Awaitable[Prompt | None]]


@dataclass
class DialogueResult:
    """What a call produced. `reason` says how it ended: completed, hung_up, refused,
    transfer, no_input (gave up after silences), invalid (gave up after wrong keys)."""

    outcome: str
    answers: dict[str, object] = field(default_factory=dict)
    by_proxy: bool = False
    wants_person: bool = False
    transcript: list[dict] = field(default_factory=list)
    reason: str = ""


class _Transfer(Exception):
    """The resident pressed 0."""


class _GiveUp(Exception):
    """The tries on a prompt ran out; args[0] is why (no_input or invalid)."""


class _Refused(Exception):
    """Not the person, and nobody answers for them."""


_INVALID = object()


class _Dialogue:
    def __init__(
        self,
        session: CallSession,
        script: Script,
        *,
        on_answer: Callable[[str, object], Awaitable[None]] | None,
        max_tries: int,
        first_timeout: float,
        inter_digit_timeout: float,
        today: date | None,
        clock: Callable[[], float],
        recogniser: Recogniser | None = None,
        identity: IdentitySource | None = None,
    ) -> None:
        self.session = session
        self.identity = identity
        self.recogniser = recogniser
        self.script = script
        self.on_answer = on_answer
        self.max_tries = max(1, max_tries)
        self.first_timeout = first_timeout
        self.inter_digit_timeout = inter_digit_timeout
        self.today = today or local_today()
        self.clock = clock
        self.start = clock()
        self.questions = questions_by_key(script)
        self.answers: dict[str, object] = {}
        self.passed: set[str] = set()  # optional questions given up on
        self.transcript: list[dict] = []

    # -- transcript and audio ------------------------------------------------------------------

    def log(self, **entry: object) -> None:
        self.transcript.append({"t": round(self.clock() - self.start, 2), **entry})

    async def say(self, prompt: Prompt | str, *, barge_in: bool) -> str:
        if isinstance(prompt, str):
            prompt = self.script.prompts[prompt]
        self.log(prompt=prompt.name)
        digits = await self.session.play(prompt, barge_in=barge_in)
        if digits:
            self.log(digits=digits)
        return digits

    async def collect(self, max_digits: int, first_timeout: float) -> str:
        digits = await self.session.collect(
            max_digits=max_digits,
            first_timeout=first_timeout,
            inter_digit_timeout=self.inter_digit_timeout,
            terminators="#",
        )
        if digits:
            self.log(digits=digits)
        return digits

    # -- reading keys ----------------------------------------------------------------------------

    async def read_key(self, prompt: Prompt, *, speech: bool = False) -> str:
        """One key: pressed during the prompt (barge-in) or after it; with `speech` (a yes/no
        question) and a recogniser, a spoken yes or no after it reads as 1 or 2."""
        digits = await self.say(prompt, barge_in=True)
        if not digits:
            listening = speech and self.recogniser is not None and self.session.start_listening()
            try:
                digits = await self.collect(1, self.first_timeout)
            finally:
                audio = self.session.stop_listening() if listening else b""
            if not digits and audio:
                digits = await self.hear(audio)
        return digits[:1]

    async def hear(self, audio: bytes) -> str:
        """A spoken yes/no as its key: "1", "2", "?" (speech, but no clear answer) or ""."""
        try:
            # CPU-bound decoding: off the event loop, which carries every other call's audio.
            text = await asyncio.to_thread(self.recogniser.recognise, audio)
        except Exception:
            log.exception("speech recognition failed")
            return ""
        if not text:
            return ""
        answer = yes_no_from_speech(text)
        self.log(speech=text)
        return "?" if answer is None else "1" if answer else "2"

    async def read_entry(self, prompt: Prompt, step: Step) -> str:
        """Several keys ended by # (or a pause): a number or a date."""
        digits = await self.say(prompt, barge_in=True)
        if "#" in digits:
            return digits.split("#", 1)[0]
        if not digits:
            digits = await self.collect(1, self.first_timeout)
            if not digits:
                return ""
        if digits in (REPEAT_KEY, PERSON_KEY) and _command_at_once(step, digits):
            return digits
        # Room for one key more than any valid entry, so the closing # is read here and not
        # left over to barge into the next prompt.
        room = step.max_digits + 1 - len(digits)
        if room > 0:
            digits += await self.collect(room, self.inter_digit_timeout)
        return digits

    async def ask(
        self,
        prompt: Prompt | str,
        parse: Callable[[str], object],
        *,
        step: Step | None = None,
        speech: bool = False,
    ) -> object:
        """Plays the prompt until a key (or entry) parses. Raises _Transfer on 0 and _GiveUp
        when the tries run out."""
        if isinstance(prompt, str):
            prompt = self.script.prompts[prompt]
        tries = repeats = 0
        while True:
            keys = await (
                self.read_entry(prompt, step) if step else self.read_key(prompt, speech=speech)
            )
            if keys == REPEAT_KEY and repeats < MAX_REPEATS:
                repeats += 1
                self.log(event="repeat")
                continue
            if keys == PERSON_KEY:
                raise _Transfer
            if not keys:
                problem, notice = "no_input", NO_INPUT
                value = _INVALID
            else:
                problem, notice = "invalid", INVALID
                value = parse(keys)
            if value is not _INVALID:
                return value
            tries += 1
            self.log(event=problem)
            if tries >= self.max_tries:
                raise _GiveUp(problem)
            await self.say(notice, barge_in=False)

    # -- the questionnaire ----------------------------------------------------------------------

    def next_key(self) -> str | None:
        """The next question to ask on the path the answers lead (questionnaires.route):
        like questionnaires.next_question, but passing over what the phone cannot ask."""
        for key in route(self.script.definition, self.answers, today=self.today):
            if key in self.answers or key in self.passed or key not in self.script.steps:
                continue
            return key
        return None

    def complete(self) -> bool:
        """Every required question the phone can ask, on the current path, is answered."""
        return all(
            self.answers.get(key) is not None
            for key in route(self.script.definition, self.answers, today=self.today)
            if key in self.script.steps and self.script.steps[key].required
        )

    def validated(self, step: Step, raw: object) -> object:
        value = validate_answer(self.questions[step.key], raw, today=self.today)
        return _INVALID if isinstance(value, AnswerError) else value

    def parser(self, step: Step) -> Callable[[str], object]:
        if step.kind == "yes_no":
            return lambda keys: self.validated(step, keys) if keys in "12" else _INVALID

        if step.kind == "single_choice":

            def choice(keys: str) -> object:
                if not keys.isdigit() or not 1 <= int(keys) <= len(step.choices):
                    return _INVALID
                return self.validated(step, step.choices[int(keys) - 1])

            return choice

        if step.kind == "number":
            return lambda keys: self.validated(step, _number_text(keys, step.decimals))

        def when(keys: str) -> object:
            if keys == SKIP_KEY:
                return self.validated(step, "")
            return self.validated(step, keys) if len(keys) == 8 and keys.isdigit() else _INVALID

        return when

    async def ask_step(self, step: Step) -> object:
        if step.kind != "multiple_choice":
            return await self.ask(
                step.prompt,
                self.parser(step),
                step=step if step.entry else None,
                speech=step.kind == "yes_no",
            )
        tries = 0
        while True:
            codes = await self.ask_items(step)
            value = self.validated(step, codes)
            if value is not _INVALID:
                return value
            tries += 1
            self.log(event="invalid")
            if tries >= self.max_tries:
                raise _GiveUp("invalid")
            await self.say(INVALID, barge_in=False)

    async def ask_items(self, step: Step) -> list[str]:
        """A multiple choice, item by item (see linli.voice.script for why)."""
        if step.exclusive:
            if not await self.ask(step.prompt, _yes_no, speech=True):
                return [step.exclusive]
        else:
            await self.say(step.prompt, barge_in=False)
        codes = [code for code, name in step.items if await self.ask(name, _yes_no, speech=True)]
        if not codes and step.exclusive:
            # Said "some of these", then no to each listed one: none of them, as answered.
            return [step.exclusive]
        return codes

    async def record(self, key: str, value: object) -> None:
        self.answers[key] = value
        self.log(event="answer", key=key)
        if self.on_answer is not None:
            await self.on_answer(key, value)

    # -- the call --------------------------------------------------------------------------------

    async def identify(self, masked_name: str) -> bool:
        """Returns whether the answers come by proxy; raises _Refused."""
        prompt = cached_identity(self.script, masked_name)
        if prompt is None and self.identity is not None:
            prompt = await self.identity(self.script, masked_name)
            if prompt is None:
                self.log(event="identity_not_ready")
                prompt = self.script.prompts[GENERIC_IDENTITY]
        if prompt is None and self.script.tts.blocking:
            # A new name needs the TTS engine, which blocks: keep the event loop free.
            prompt = await asyncio.to_thread(identity_prompt, self.script, masked_name)
        elif prompt is None:
            prompt = identity_prompt(self.script, masked_name)
        if await self.ask(prompt, _yes_no, speech=True):
            return False
        if await self.ask(PROXY, _yes_no, speech=True):
            return True
        raise _Refused

    async def run(self, masked_name: str) -> DialogueResult:
        result = DialogueResult(outcome="failed", answers=self.answers)
        try:
            await self.say(INTRO, barge_in=False)
            result.by_proxy = await self.identify(masked_name)
            while (key := self.next_key()) is not None:
                step = self.script.steps[key]
                try:
                    value = await self.ask_step(step)
                except _GiveUp:
                    if step.required:
                        raise
                    self.passed.add(key)
                    self.log(event="passed", key=key)
                    continue
                await self.record(key, value)
            result.outcome, result.reason = "answered", "completed"
            await self.say(CLOSING, barge_in=False)
        except HungUp:
            self.log(event="hung_up")
            result.reason = result.reason or "hung_up"
            if result.outcome != "answered":
                result.outcome = "answered" if self.answers and self.complete() else "hung_up"
        except _Refused:
            result.outcome, result.reason = "refused", "refused"
            await self.finish(GOODBYE)
        except _Transfer:
            self.log(event="transfer")
            result.wants_person = True
            result.outcome, result.reason = ("answered" if self.answers else "failed"), "transfer"
            await self.finish(TRANSFER)
        except _GiveUp as exc:
            self.log(event="give_up")
            result.reason = str(exc.args[0]) if exc.args else "invalid"
            result.outcome = "hung_up" if self.answers else "failed"
            await self.finish(GIVE_UP)
        result.transcript = self.transcript
        await self.hang_up()
        return result

    async def finish(self, name: str) -> None:
        try:
            await self.say(name, barge_in=False)
        except HungUp:
            self.log(event="hung_up")

    async def hang_up(self) -> None:
        if self.session.hung_up:
            return
        with contextlib.suppress(HungUp):
            await self.session.hangup()


def _yes_no(keys: str) -> object:
    return {"1": True, "2": False}.get(keys, _INVALID)


def _number_text(keys: str, decimals: int) -> str:
    """Keys → the number as validate_answer reads it: 375 → "37.5" for a temperature (one
    decimal typed without the point; two digits are whole degrees), 37*5 → "37.5", * alone →
    "" (skipped)."""
    if keys == SKIP_KEY:
        return ""
    if SKIP_KEY in keys:
        whole, _, fraction = keys.partition(SKIP_KEY)
        if not whole.isdigit() or (fraction and not fraction.isdigit()):
            return "?"
        return f"{whole}.{fraction}" if fraction else whole
    if not keys.isdigit():
        return "?"
    if decimals and len(keys) > 2:
        return f"{keys[:-decimals]}.{keys[-decimals:]}"
    return keys


def _command_at_once(step: Step, key: str) -> bool:
    """Whether a first key 9 or 0 of an entry is the command for sure, because no valid
    answer starts with it (every date starts with its year; a temperature with 3 or 4)."""
    if step.kind == "date":
        return True
    if step.low is None or step.high is None:
        return False
    low, high = math.ceil(step.low), math.floor(step.high)
    if high - low > 100_000 or low < 0:
        return False
    return all(not str(n).startswith(key) for n in range(low, high + 1))


def _loop_clock() -> Callable[[], float]:
    # The running loop's clock: a dialer running in virtual time gives virtual seconds.
    return asyncio.get_running_loop().time


async def run_dialogue(
    session: CallSession,
    script: Script,
    *,
    masked_name: str,
    on_answer: Callable[[str, object], Awaitable[None]] | None = None,
    max_tries: int = MAX_TRIES,
    first_timeout: float = FIRST_TIMEOUT,
    inter_digit_timeout: float = INTER_DIGIT_TIMEOUT,
    today: date | None = None,
    clock: Callable[[], float] | None = None,
    recogniser: Recogniser | None = None,
    identity: IdentitySource | None = None,
) -> DialogueResult:
    """Holds the screening conversation over an answered call and returns its result (see the
    module docstring for the flow and the outcomes). `identity(script, masked_name)` gives the
    identity prompt, or None when it is not ready (linli.voice.identities); without it the
    prompt is made here, in a thread when the engine blocks. Hangs up at the end. Never raises
    HungUp; an exception from on_answer propagates after the call is hung up."""
    dialogue = _Dialogue(
        session,
        script,
        on_answer=on_answer,
        max_tries=max_tries,
        first_timeout=first_timeout,
        inter_digit_timeout=inter_digit_timeout,
        today=today,
        clock=clock or _loop_clock(),
        recogniser=recogniser,
        identity=identity,
    )
    try:
        return await dialogue.run(masked_name)
    except BaseException:
        await dialogue.hang_up()
        raise
