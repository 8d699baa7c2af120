"""The dialer: an asyncio process that works through the robot's call jobs.

One loop per process. It claims due jobs (linli.voice.services.calls.claim_jobs: running robots of
running campaigns, inside their calling hours, the vulnerable first, never a person already
in a call, never a do-not-call number) up to each line's free capacity, paces the calls of
each line to its calls-per-second, places them through the line's Carrier, runs the
dialogue (linli.voice.dialogue.run_dialogue) on answered calls saving each answer as it is
given, and records the outcome, which schedules the retry.

Crash safety lives in the database: a claimed job carries the dialer's lease and its
attempt's call id; a heartbeat extends the leases of calls in progress; each answer is in the
job's journal before the dialogue goes on, and so is the mark that a call is being placed
(and, once answered, its SIP dialog). A dialer that dies stops extending its leases, and
whichever dialer next sees an expired lease takes its jobs back: one never dialled returns to
the queue untouched; a call that was placed is recorded as interrupted, with the journalled
answers, on a budget of its own (never the resident's retries), and the BYE its dialog never
got is sent: the attempt is never dialled again, and no answer given is lost.

A lost database connection does not stop the dialer: every write is retried on a fresh
connection (see `Dialer._db_retry`) while the calls go on and their answers wait in memory.
A line whose carrier fails calls in a row (5xx, no response, no route) stops dialling for a
while (`LineRuntime`, honouring Retry-After), says so on the line for the robot page and the
leads, and tries again by itself; such failures are not counted against residents.

Time comes from a Clock: the real one, or VirtualClock for tests and the bench, where the
event loop jumps to the next timer whenever everything waits (see VirtualTimeLoop).
"""

import asyncio
import contextlib
import logging
import math
import os
import selectors
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from linli.adapters import telephony, tts
from linli.adapters.asr import recogniser_from_settings
from linli.adapters.telephony.base import CallRequest, Carrier, HungUp
from linli.screening.models import AttemptOutcome, QuestionnaireVersion
from linli.voice.dialogue import run_dialogue
from linli.voice.identities import IDENTITY_WAIT, IdentityPrompts
from linli.voice.models import Line, OutageReason
from linli.voice.script import script_for
from linli.voice.services import calls as call_services
from linli.voice.services import lines as line_services

log = logging.getLogger(__name__)
T = TypeVar("T")

# ---------------------------------------------------------------------------------------------
# Clocks


class Clock:
    """The real clock: wall time from Django, intervals from the event loop."""

    def now(self) -> datetime:
        return timezone.now()

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def run(self, main: Awaitable[T]) -> T:
        return asyncio.run(main)  # type: ignore[arg-type]


class _JumpingSelector:
    """Wraps a selector: instead of blocking until the next timer, advance virtual time."""

    def __init__(self, selector: selectors.BaseSelector, loop: "VirtualTimeLoop"):
        self._selector = selector
        self._loop = loop

    def select(self, timeout: float | None = None):
        events = self._selector.select(0)
        if events or timeout == 0:
            return events
        if timeout is None:
            # Nothing scheduled at all: only another thread can wake us, so really wait.
            return self._selector.select(None)
        self._loop.advance(timeout)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time() is virtual and jumps to the next timer when idle.

    Meant for a single-threaded simulation: database work runs inline (`inline_db`), so time
    moves only while nothing is runnable. Work handed to a thread would see time jump."""

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        self._selector = _JumpingSelector(self._selector, self)  # type: ignore[assignment]

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._virtual_now += seconds


class VirtualClock(Clock):
    """Virtual time from `start` (an aware datetime). run() drives a coroutine on a
    VirtualTimeLoop kept between runs (one timeline); now() is start + virtual seconds."""

    def __init__(self, start: datetime):
        if timezone.is_naive(start):
            start = timezone.make_aware(start)
        self.start = start
        self._loop: VirtualTimeLoop | None = None

    @property
    def loop(self) -> VirtualTimeLoop:
        if self._loop is None or self._loop.is_closed():
            self._loop = VirtualTimeLoop()
        return self._loop

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.loop.time())

    def monotonic(self) -> float:
        return self.loop.time()

    def run(self, main: Awaitable[T]) -> T:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(main)
        finally:
            asyncio.set_event_loop(None)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()


DB = Callable[..., Awaitable[Any]]
# Identity prompts are made for the calls due in the next LOOKAHEAD_SECONDS of a line's pace,
# looked at every LOOKAHEAD_EVERY seconds (see Dialer._look_ahead).
LOOKAHEAD_SECONDS = 20.0
LOOKAHEAD_EVERY = 2.0
# The dialer's default recogniser: whatever LINLI_VOICE_ASR_MODEL configures.
FROM_SETTINGS = object()


async def inline_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Runs database work on the loop's own thread, for the single-threaded virtual-time
    simulation (the test's transaction and the bench's connection belong to that thread).
    Django refuses ORM calls while an event loop runs in the thread, so the loop is set aside
    for the duration of the call; nothing else could run meanwhile anyway."""
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        return fn(*args, **kwargs)
    finally:
        asyncio.events._set_running_loop(loop)


async def thread_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Database work in Django's thread-sensitive executor: the event loop keeps serving the
    calls (RTP, SIP timers) while a query runs."""
    return await sync_to_async(fn, thread_sensitive=True)(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Lines


class Pacer:
    """Calls-per-second of a line: starts are spaced at least 1/rate apart (a token bucket
    holding one token), so no second of the line's life sees more than `rate` new calls."""

    # Seconds of starts a line may have claimed ahead of its pace: a call waiting for its turn
    # holds a line slot without ringing anyone, so a deep queue here starves the line.
    AHEAD_SECONDS = 2.0

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self.burst = max(1, math.ceil(self.AHEAD_SECONDS * rate))
        self._next = float("-inf")

    def waiting(self, now: float) -> int:
        """Returns how many reserved starts are still ahead of `now`."""
        ahead = self._next - now
        return math.ceil(ahead / self.interval) if ahead > 0 else 0

    async def wait(self, clock: Clock) -> None:
        now = clock.monotonic()
        # Reserve the slot before sleeping so concurrent callers queue in order.
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await clock.sleep(at - now)


@dataclass
class InFlight:
    """A call a dialer task is working on, as far as a stop needs to know: whether it was
    placed (a number rang), answered, the answers given so far, and whether its attempt was
    handed to the recorder."""

    call: call_services.ClaimedCall
    line_name: str
    placed: bool = False
    placed_at: datetime | None = None
    answered: bool = False
    answers: dict[str, object] = field(default_factory=dict)
    submitted: bool = False


@dataclass
class LineRuntime:
    line_id: int
    name: str
    max_concurrent: int
    carrier: Carrier
    pacer: Pacer
    caller_id: str = ""
    active: int = 0
    next_claim: float = 0.0  # loop time before which claiming again is pointless
    # The outage breaker: carrier-side failures in a row; once `outage_after` of them, the
    # line stops dialling until `paused_until` (loop time), then places one trial call.
    outage_after: int = 5
    failures: int = 0
    out: bool = False  # in an outage (recorded on the line) until a call goes through
    paused_until: float | None = None
    backoff: float = 0.0
    trial: bool = False  # the one call placed after a pause, result pending
    reason: str = ""

    def paused(self, now: float) -> bool:
        """Whether the line must not claim now; a pause that ran out turns into a trial."""
        if self.paused_until is None:
            return self.out and self.trial
        if now < self.paused_until:
            return True
        self.paused_until = None
        return False


# Outage breaker defaults (a line's settings may say `outage_after`, `outage_backoff`).
OUTAGE_AFTER = 5
OUTAGE_BACKOFF = 30.0
OUTAGE_BACKOFF_MAX = 600.0
RETRY_AFTER_MAX = 3600.0


def carrier_failure(outcome: str, sip_status: int | None, detail: dict) -> str:
    """Returns the OutageReason of a call the carrier failed (not the resident: a 5xx, no
    response at all, no route to the trunk), "" for any other result."""
    if outcome != "failed":
        return ""
    if sip_status is None:
        reason = str(detail.get("reason", ""))
        if "Timer B" in reason or reason == "timeout":
            return OutageReason.TIMEOUT
        return OutageReason.NO_ROUTE
    if 500 <= sip_status < 600:
        return OutageReason.SERVER_ERROR
    return ""


# What a lost database connection raises (psycopg's "the connection is lost", a backend
# terminated by an administrator, a server restart).
DB_LOST = (OperationalError, InterfaceError)


def reset_connection() -> None:
    """Drops this thread's database connection, so the next query opens a fresh one."""
    with contextlib.suppress(Exception):
        connection.close()


# ---------------------------------------------------------------------------------------------
# Group commit


class Batcher:
    """Group commit: items submitted within `window` seconds of the first one are written
    together by one call of `write(items) -> results` (one statement or one transaction), and
    each submitter gets its own result (or the batch's exception) once that write returned.

    A submitter that awaits its result does not go on before its item is in the database, so
    batching gives up no durability; it only waits up to `window` longer (an answer's next
    prompt starts at most that much later, which no caller hears)."""

    def __init__(self, dialer: "Dialer", write: Callable[[list], list], window: float):
        self._dialer = dialer
        self._write = write
        self.window = window
        self._items: list = []
        self._futures: list[asyncio.Future] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.writes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def submit(self, item) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._items.append(item)
        self._futures.append(future)
        self._ready.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            if self.window > 0:
                await self._dialer.clock.sleep(self.window)
            items, futures = self._items, self._futures
            self._items, self._futures = [], []
            self._ready.clear()
            try:
                # A lost connection is retried (the items wait in memory): a call waiting for
                # its answer to be written waits longer, nothing is lost.
                results = await self._dialer._db_retry(self._write, items, what="a journal write")
            except asyncio.CancelledError:
                for future in futures:
                    future.cancel()
                raise
            except Exception as error:
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.writes += 1
            for future, result in zip(futures, results, strict=True):
                if not future.done():
                    future.set_result(result)


def _consume(future: asyncio.Future) -> None:
    # A fire-and-forget submission: a failed write is logged, not left unretrieved.
    if not future.cancelled() and future.exception() is not None:
        log.warning("journal write failed: %s", future.exception())


# ---------------------------------------------------------------------------------------------
# Progress


@dataclass
class Stats:
    placed: int = 0
    answered: int = 0
    finished: int = 0
    answers_saved: int = 0  # journalled as given
    answers_recorded: int = 0  # carried by the attempts recorded
    recovered: int = 0
    released: int = 0  # jobs a dead dialer claimed but never dialled, given back
    dialogs_closed: int = 0  # BYEs sent for dialogs a dead dialer left open
    db_errors: int = 0  # database operations retried on a fresh connection
    carrier_failures: int = 0
    in_progress: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    _recent: deque = field(default_factory=deque, repr=False)

    def per_minute(self, now: float) -> int:
        while self._recent and self._recent[0] < now - 60:
            self._recent.popleft()
        return len(self._recent)

    def line(self, now: float) -> str:
        return (
            f"calls in progress {self.in_progress} · {self.per_minute(now)}/min · "
            f"placed {self.placed} · answered {self.answered} · finished {self.finished} · "
            f"answers saved {self.answers_saved}"
        )


def _speech_blocks() -> bool:
    """Whether the configured speech engine blocks (espeak-ng): its identity prompts are then
    made by worker processes, started with the dialer."""
    try:
        return tts.get_tts().blocking
    except ImproperlyConfigured:
        return False


def default_owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def default_scripts(version_id: int):
    """The spoken script of a questionnaire version (synthesised once, stored, reloaded)."""
    return script_for(QuestionnaireVersion.objects.get(pk=version_id))


def default_carrier(line: Line) -> Carrier:
    """Returns the carrier adapter of a line, built from its kind and settings (the password
    read from the environment variable the line names). Raises ValueError for an unknown
    kind or unusable settings."""
    return telephony.get_carrier(
        line.carrier, line.settings or {}, password=line.password(), max_calls=line.max_concurrent
    )


# ---------------------------------------------------------------------------------------------
# The dialer


class Dialer:
    """Works through due call jobs on the given lines until stopped (see the module doc).

    `carrier_for_line(line)` builds each line's Carrier; `scripts(version_id)` returns the
    questionnaire's Script (sync, run through `db`); `dialogue` is run_dialogue's signature.
    `db` runs a synchronous service function: `thread_db` for real, `inline_db` in virtual
    time. `idle_seconds` is how long to wait when nothing is due before looking again.

    Writes of many calls share a commit (Batcher): the answers of calls in progress are
    journalled together every `journal_window` seconds (each call waits for its answer to be
    written before the next question), and the attempts of calls that ended are recorded
    together every `record_window` seconds.

    `recogniser` (linli.adapters.asr) lets residents answer yes/no questions aloud; by default
    the one LINLI_VOICE_ASR_MODEL configures, if any (None: the keypad only).

    On stop, calls claimed but not placed yet are given back at once and calls in progress
    get `stop_grace` seconds to finish; those still on are then hung up and recorded as
    interrupted with the answers given so far, so a stop takes about `stop_grace` plus a
    second, not the length of the longest call.

    `identities` makes each claimed call's identity prompt ahead, in worker processes
    (linli.voice.identities), so no synthesis runs on the event loop."""

    def __init__(
        self,
        *,
        lines: list[Line],
        carrier_for_line: Callable[[Line], Carrier] = default_carrier,
        clock: Clock | None = None,
        db: DB | None = None,
        scripts: Callable[[int], Any] = default_scripts,
        dialogue: Callable[..., Awaitable[Any]] | None = None,
        owner: str | None = None,
        ring_timeout: float = 30.0,
        poll_seconds: float = 1.0,
        idle_seconds: float = 5.0,
        housekeeping_seconds: float = 30.0,
        claim_batch: int = 200,
        journal_window: float = 0.05,
        record_window: float = 0.25,
        recogniser: Any = FROM_SETTINGS,
        stop_grace: float = 10.0,
        identities: IdentityPrompts | None = None,
    ):
        if not lines:
            raise ValueError("no line to call on")
        self.lines_config = lines
        self.carrier_for_line = carrier_for_line
        self.clock = clock or Clock()
        self.db = db or thread_db
        self.scripts = scripts
        self.dialogue = dialogue
        self.owner = owner or default_owner()
        self.ring_timeout = ring_timeout
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.housekeeping_seconds = housekeeping_seconds
        self.claim_batch = claim_batch
        self.journal_window = journal_window
        self.record_window = record_window
        self.recogniser = recogniser
        self.stop_grace = stop_grace
        # In virtual time a bounded wait for a prompt would pass at once: wait until it is made.
        self.identities = identities or IdentityPrompts(
            wait=None if isinstance(self.clock, VirtualClock) else IDENTITY_WAIT
        )
        self._next_lookahead: dict[int, float] = {}  # line id → loop time of the next look
        self.stats = Stats()
        self.lines: list[LineRuntime] = []
        self._tasks: dict[asyncio.Task, call_services.ClaimedCall] = {}
        self._flights: dict[asyncio.Task, InFlight] = {}
        self._script_cache: dict[int, Any] = {}
        self._wake: asyncio.Event | None = None
        self._asked_every_line = False
        self._side_tasks: set[asyncio.Task] = set()

    async def _db_retry(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        what: str,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> T:
        """Runs `fn` through `db`; a lost connection is dropped and the call retried on a new
        one (backing off up to 5 s) until it succeeds, or until `deadline` (loop time) when
        given, then the last error is raised. Other errors are raised at once."""
        delay = 0.1
        while True:
            try:
                return await self.db(fn, *args, **kwargs)
            except DB_LOST as error:
                self.stats.db_errors += 1
                if deadline is not None and self.clock.monotonic() + delay > deadline:
                    raise
                log.warning("database lost during %s (%s); retrying", what, str(error).strip())
                with contextlib.suppress(Exception):
                    await self.db(reset_connection)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        """Runs work a call must not wait for (an outage report, a BYE left unsent)."""
        task = asyncio.ensure_future(coroutine)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("dialer side task failed: %s", task.exception())

    async def _dialogue(self, *args, **kwargs):
        if self.dialogue is None:
            self.dialogue = run_dialogue
        return await self.dialogue(*args, **kwargs)

    async def run(
        self,
        *,
        stop: asyncio.Event | None = None,
        once: bool = False,
        until: datetime | None = None,
    ) -> Stats:
        """Dials until `stop` is set, `until` (clock time) passes, or with `once` until no
        job is due and no call is on. Stopping lets the calls in progress finish; cancelling
        the task (a crash, in tests) drops them without another write."""
        self._wake = asyncio.Event()
        if self.recogniser is FROM_SETTINGS:
            self.recogniser = recogniser_from_settings()
        self.lines = [self._line_runtime(line) for line in self.lines_config]
        self._journal = Batcher(self, self._write_journal, self.journal_window)
        self._recorder = Batcher(self, self._write_finishes, self.record_window)
        self._journal.start()
        self._recorder.start()
        heartbeat = asyncio.create_task(self._heartbeat())
        waker = asyncio.create_task(self._wake_on(stop)) if stop is not None else None
        crashed = False
        try:
            if _speech_blocks():
                await self.identities.start()
            await self._housekeeping()
            last_housekeeping = self.clock.monotonic()
            while not (stop is not None and stop.is_set()):
                if until is not None and self.clock.now() >= until:
                    break
                if self.clock.monotonic() - last_housekeeping >= self.housekeeping_seconds:
                    await self._housekeeping()
                    last_housekeeping = self.clock.monotonic()
                launched = await self._fill()
                if once and not launched and not self._tasks and self._asked_every_line:
                    break
                wait = self.poll_seconds if (launched or self._tasks) else self.idle_seconds
                if until is not None:
                    left = (until - self.clock.now()).total_seconds()
                    wait = max(0.001, min(wait, left))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            if self._tasks:
                await self._drain(stopping=stop is not None and stop.is_set())
        except asyncio.CancelledError:
            crashed = True
            raise
        finally:
            heartbeat.cancel()
            if waker is not None:
                waker.cancel()
            if crashed or self._tasks:
                # A crash: the calls drop with the process, nothing more is written.
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._side_tasks and not crashed:
                # An outage report or a BYE under way is let through (briefly).
                await asyncio.wait(set(self._side_tasks), timeout=self.STOP_WRITE_SECONDS)
            for task in list(self._side_tasks):
                task.cancel()
            await asyncio.gather(heartbeat, *self._side_tasks, return_exceptions=True)
            if waker is not None:
                await asyncio.gather(waker, return_exceptions=True)
            await self._journal.stop()
            await self._recorder.stop()
            self.identities.close()
            if not crashed:
                for line in self.lines:
                    # A far end that never answers our BYE must not hold the stop (Timer F).
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(line.carrier.close(), self.CLOSE_SECONDS)
        return self.stats

    # How long closing a carrier (the BYEs of calls hung up at a stop) may take.
    CLOSE_SECONDS = 1.0

    async def _wake_on(self, stop: asyncio.Event) -> None:
        # A stop is acted on at once, not at the end of the loop's wait.
        await stop.wait()
        if self._wake is not None:
            self._wake.set()

    def _line_runtime(self, line: Line) -> LineRuntime:
        settings = line.settings or {}
        runtime = LineRuntime(
            line_id=line.pk,
            name=line.name,
            max_concurrent=line.max_concurrent,
            carrier=self.carrier_for_line(line),
            pacer=Pacer(line.calls_per_second),
            caller_id=str(settings.get("caller_id", "")),
            outage_after=max(1, int(settings.get("outage_after", OUTAGE_AFTER))),
        )
        if line.outage_since is not None:
            # An outage a previous dialer reported: keep to its pause, then try one call.
            runtime.out, runtime.reason = True, line.outage_reason
            runtime.backoff = float(settings.get("outage_backoff", OUTAGE_BACKOFF))
            until = line.outage_until or self.clock.now()
            left = (until - self.clock.now()).total_seconds()
            runtime.paused_until = self.clock.monotonic() + max(0.0, left)
        return runtime

    async def _drain(self, *, stopping: bool) -> None:
        """Waits for the calls in progress. When stopping: gives back the calls not placed
        yet, waits `stop_grace` seconds for the others, then hangs them up and records each
        as interrupted (with its answers when answered). The writes of a stop get a few
        seconds: a call they could not record is recovered from the journal by the next
        dialer, never lost."""
        if not stopping:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            return
        flights = dict(self._flights)
        unplaced = [task for task, flight in flights.items() if not flight.placed]
        for task in unplaced:
            task.cancel()
        await asyncio.gather(*unplaced, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.stop_grace)
        # A call whose attempt is with the recorder is over: its write is let through.
        interrupted = [task for task in flights if not task.done() and not flights[task].submitted]
        for task in interrupted:
            task.cancel()
        # Each cancelled call sends its BYE; a far end that never answers must not hold us.
        pending = [task for task in flights if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.CLOSE_SECONDS)
        deadline = self.clock.monotonic() + self.STOP_WRITE_SECONDS
        released = [flights[task].call.job_id for task in unplaced if not flights[task].placed]
        now = self.clock.now()
        finishes = [
            call_services.Finish(
                call=flight.call,
                outcome=AttemptOutcome.INTERRUPTED,
                started_at=flight.placed_at or now,
                finished_at=now,
                answers=dict(flight.answers),
                detail={
                    "attempt": flight.call.attempt,
                    "line": flight.line_name,
                    "stopped": True,
                    "answered": flight.answered,
                },
                counts_as=call_services.INTERRUPTED,
            )
            for flight in (flights[task] for task in interrupted)
            if flight.placed
        ]
        try:
            if released:
                await self._db_retry(
                    call_services.release_jobs,
                    owner=self.owner,
                    job_ids=released,
                    what="giving back calls",
                    deadline=deadline,
                )
            if finishes:
                results = await self._db_retry(
                    self._write_finishes, finishes, what="recording calls", deadline=deadline
                )
                self._count_finished([result for result in results if result is not None])
        except DB_LOST as error:
            log.warning("stopping without the database (%s): the next dialer recovers", error)
        log.info(
            "stopped: %s calls given back, %s calls hung up and recorded",
            len(released),
            len(finishes),
        )

    # How long the writes of a stop may wait for the database.
    STOP_WRITE_SECONDS = 3.0

    async def _give_back(self, call: call_services.ClaimedCall) -> None:
        await self._db_retry(
            call_services.release_jobs, owner=self.owner, job_ids=[call.job_id], what="a release"
        )

    def _count_finished(self, recorded: list) -> None:
        self.stats.finished += len(recorded)
        self.stats.answers_recorded += sum(result.answers for result in recorded)
        for result in recorded:
            self.stats.outcomes[result.outcome] = self.stats.outcomes.get(result.outcome, 0) + 1

    def _write_journal(self, entries: list[call_services.JournalEntry]) -> list[None]:
        call_services.journal_calls(owner=self.owner, entries=entries, now=self.clock.now())
        return [None] * len(entries)

    def _write_finishes(self, finishes: list[call_services.Finish]) -> list:
        return call_services.finish_calls(owner=self.owner, finishes=finishes)

    async def _housekeeping(self) -> None:
        now = self.clock.now()
        try:
            await self.db(call_services.sweep_jobs, now=now)
            recovery = await self.db(call_services.recover_expired, now=now)
        except DB_LOST as error:
            # Next round; the calls in progress do not wait for this.
            self.stats.db_errors += 1
            log.warning("database lost during housekeeping (%s); next round", error)
            await self.db(reset_connection)
            self.identities.prune()
            return
        if recovery.closed or recovery.released:
            log.warning(
                "took back the jobs of a dialer that stopped: %s calls interrupted, %s never "
                "dialled given back",
                recovery.closed,
                recovery.released,
            )
            self.stats.recovered += recovery.closed
            self.stats.released += recovery.released
        self.identities.prune()
        lines = {line.line_id: line for line in self.lines}
        for left in recovery.dialogs:
            line = lines.get(left.line_id)
            if line is None:
                log.warning("a call left open on another line: its carrier's timers end it")
                continue
            self._spawn(self._end_left_dialog(line, left.dialog))

    async def _end_left_dialog(self, line: LineRuntime, dialog: dict) -> None:
        if await line.carrier.end_dialog(dialog):
            self.stats.dialogs_closed += 1

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(call_services.LEASE_SECONDS / 3)
            ids = [call.job_id for call in self._tasks.values()]
            if ids:
                # Retried until it goes through: leases outlive a short database outage.
                await self._db_retry(
                    call_services.extend_leases,
                    owner=self.owner,
                    job_ids=ids,
                    now=self.clock.now(),
                    what="the heartbeat",
                )

    async def _fill(self) -> int:
        """Claims jobs for every line's free slots and starts their calls."""
        launched = 0
        self._asked_every_line = True
        for line in self.lines:
            now = self.clock.monotonic()
            if line.paused(now):
                continue  # in an outage: nothing to ask until the pause is over
            free = min(
                line.max_concurrent - line.active,
                self.claim_batch,
                line.pacer.burst - line.pacer.waiting(now),
            )
            if line.out:
                free = min(free, 1)  # the trial call after a pause, alone
            if free <= 0 or now < line.next_claim:
                self._asked_every_line = False
                continue
            try:
                claimed = await self.db(
                    call_services.claim_jobs,
                    owner=self.owner,
                    line_id=line.line_id,
                    limit=free,
                    now=self.clock.now(),
                )
            except DB_LOST as error:
                # Jobs claimed by a commit we never heard of were not dialled: when their
                # lease expires they go back to the queue untouched.
                self.stats.db_errors += 1
                log.warning("database lost while claiming calls (%s); retrying", error)
                await self.db(reset_connection)
                line.next_claim = self.clock.monotonic() + self.poll_seconds
                self._asked_every_line = False
                continue
            if line.out and claimed:
                line.trial = True
            for call in claimed:
                line.active += 1
                flight = InFlight(call=call, line_name=line.name)
                task = asyncio.create_task(self._call(line, call, flight))
                self._tasks[task] = call
                self._flights[task] = flight
                task.add_done_callback(self._done)
            launched += len(claimed)
            await self._look_ahead(line)
            # Fewer due than free slots: nothing more is due until new jobs or retries fall
            # due, so look again after a poll instead of at every call's end.
            line.next_claim = (
                self.clock.monotonic() + self.poll_seconds if len(claimed) < free else 0.0
            )
        return launched

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.pop(task, None)
        self._flights.pop(task, None)
        if self._wake is not None:
            self._wake.set()

    async def _script(self, version_id: int):
        script = self._script_cache.get(version_id)
        if script is None:
            script = await self._db_retry(self.scripts, version_id, what="loading a script")
            self._script_cache[version_id] = script
        return script

    async def _call(
        self, line: LineRuntime, call: call_services.ClaimedCall, flight: InFlight | None = None
    ) -> None:
        session = None
        on_line = True
        self.stats.in_progress += 1
        flight = flight or InFlight(call=call, line_name=line.name)
        answers = flight.answers
        try:
            await self._prefetch_identity(call)
            await line.pacer.wait(self.clock)
            if line.paused_until is not None:
                # The line stopped dialling while this call waited for its turn: not dialled,
                # so the job goes back to the queue untouched.
                await self._give_back(call)
                return
            placed_at, placed_mono = self.clock.now(), self.clock.monotonic()
            flight.placed, flight.placed_at = True, placed_at
            # In the journal before the number rings: a crash from here on is an interrupted
            # call, before it a job never dialled (given back untouched).
            await self._journal.submit(call_services.JournalEntry(call, dialled=True))
            self.stats.placed += 1
            setup = await line.carrier.place_call(
                CallRequest(
                    call_id=call.call_id,
                    number=call.number,
                    caller_id=line.caller_id,
                    ring_timeout=self.ring_timeout,
                )
            )
            detail: dict[str, Any] = {
                "attempt": call.attempt,
                "line": line.name,
                "sip_status": setup.sip_status,
                "ring_seconds": round(self.clock.monotonic() - placed_mono, 1),
                **{k: v for k, v in setup.detail.items() if k not in ("number", "to", "uri")},
            }
            outcome, by_proxy, started_at = setup.outcome, False, placed_at
            counts_as = self._carrier_result(line, setup, detail)
            if setup.outcome == "answered" and setup.session is not None:
                session = setup.session
                flight.answered = True
                self.stats.answered += 1
                outcome, by_proxy, extra = await self._converse(
                    call, session, answers, dialog=setup.dialog
                )
                detail.update(extra)
                started_at = placed_at + timedelta(seconds=detail["ring_seconds"])
            finished_at = self.clock.now()
            if session is not None and not session.hung_up:
                with contextlib.suppress(Exception):
                    await session.hangup()
            # The line is free once the call is over; recording it takes nothing from it.
            on_line = False
            line.active -= 1
            self.stats.in_progress -= 1
            flight.submitted = True
            result = await self._recorder.submit(
                call_services.Finish(
                    call=call,
                    outcome=outcome,
                    started_at=started_at,
                    finished_at=finished_at,
                    answers=answers,
                    by_proxy=by_proxy,
                    detail=detail,
                    wants_person=bool(detail.get("wants_person")),
                    counts_as=counts_as,
                )
            )
            if result is None:
                raise RuntimeError("the attempt was not recorded")
            self.stats.finished += 1
            self.stats.answers_recorded += result.answers
            self.stats.outcomes[result.outcome] = self.stats.outcomes.get(result.outcome, 0) + 1
            self.stats._recent.append(self.clock.monotonic())
        except asyncio.CancelledError:
            raise
        except Exception:
            # The database or the carrier failed under this call: its lease will expire and
            # the attempt be closed by the recovery from its journal, never dialled again.
            log.exception("call %s failed in the dialer", call.call_id)
        finally:
            if session is not None and not session.hung_up:
                # The line may already be gone.
                with contextlib.suppress(Exception):
                    await session.hangup()
            if on_line:
                line.active -= 1
                self.stats.in_progress -= 1

    async def _look_ahead(self, line: LineRuntime) -> None:
        """Has the identity prompts of the calls due next on a line made before they are
        claimed (claims run only a couple of seconds ahead of the pace; a callee may answer
        at once): the next LOOKAHEAD_SECONDS of the line's pace, looked at every
        LOOKAHEAD_EVERY seconds, when the prompts are made by worker processes."""
        now = self.clock.monotonic()
        if not self.identities.started or now < self._next_lookahead.get(line.line_id, 0.0):
            return
        self._next_lookahead[line.line_id] = now + LOOKAHEAD_EVERY
        limit = max(1, math.ceil(LOOKAHEAD_SECONDS / line.pacer.interval))
        try:
            upcoming = await self.db(
                call_services.upcoming_calls,
                line_id=line.line_id,
                limit=limit,
                now=self.clock.now(),
            )
            for version_id, masked_name in upcoming:
                self.identities.prefetch(await self._script(version_id), masked_name)
        except asyncio.CancelledError:
            raise
        except DB_LOST as error:
            self.stats.db_errors += 1
            log.warning("database lost while looking ahead (%s); next round", error)
            await self.db(reset_connection)
        except Exception:
            log.exception("looking ahead at the calls due on line %s failed", line.name)

    async def _prefetch_identity(self, call: call_services.ClaimedCall) -> None:
        """Has the call's identity prompt made while it waits its turn and rings."""
        try:
            script = await self._script(call.version_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            return  # the call meets the same failure when it needs the script, and reports it
        self.identities.prefetch(script, call.masked_name)

    async def _converse(
        self,
        call: call_services.ClaimedCall,
        session,
        answers: dict[str, object],
        *,
        dialog: dict | None = None,
    ) -> tuple[str, bool, dict]:
        """Runs the dialogue on an answered call, journalling each answer as it is given (into
        `answers` too, for the attempt recorded at the end)."""
        answered_mono = self.clock.monotonic()
        # Not awaited: until it is written a crash closes the attempt as failed, and no
        # answer can be written before it (the journal keeps its order).
        # The dialog goes with it, for the BYE a crash would leave unsent.
        entry = call_services.JournalEntry(call, in_call=True, dialog=dialog)
        self._journal.submit(entry).add_done_callback(_consume)
        script = await self._script(call.version_id)

        async def on_answer(key: str, value: object) -> None:
            answers[key] = value
            await self._journal.submit(call_services.JournalEntry(call, answers={key: value}))
            self.stats.answers_saved += 1

        speech = {"recogniser": self.recogniser} if self.recogniser is not None else {}
        try:
            result = await self._dialogue(
                session,
                script,
                masked_name=call.masked_name,
                on_answer=on_answer,
                identity=self.identities.get,
                **speech,
            )
        except HungUp:
            return "hung_up", False, {"duration": self._since(answered_mono)}
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dialogue of %s failed", call.call_id)
            outcome = "hung_up" if (session.hung_up or answers) else "failed"
            return outcome, False, {"duration": self._since(answered_mono), "error": True}
        # The result holds every answer on_answer was given; the journal has them too.
        answers.update(result.answers)
        extra = {
            "duration": self._since(answered_mono),
            "transcript": list(result.transcript)[:300],
            "wants_person": bool(result.wants_person),
        }
        return result.outcome, bool(result.by_proxy), extra

    def _since(self, mono: float) -> float:
        return round(self.clock.monotonic() - mono, 1)

    # -- the outage breaker ----------------------------------------------------------------

    def _carrier_result(self, line: LineRuntime, setup: Any, detail: dict) -> str:
        """Feeds a call's setup to its line's outage breaker. Returns the outcome_counts key
        the attempt counts under: CARRIER_FAILED for a carrier-side failure (never the
        resident's retries), "" otherwise."""
        reason = carrier_failure(setup.outcome, setup.sip_status, setup.detail)
        if not reason:
            line.failures = 0
            line.trial = False
            if line.out:
                line.out, line.backoff, line.reason, line.paused_until = False, 0.0, "", None
                log.warning("line %s: a call went through, dialling again", line.name)
                self._spawn(
                    self._db_retry(
                        line_services.clear_line_outage,
                        line_id=line.line_id,
                        dialer=self.owner,
                        now=self.clock.now(),
                        what="clearing an outage",
                    )
                )
            return ""
        self.stats.carrier_failures += 1
        detail["carrier_failure"] = str(reason)
        line.failures += 1
        line.reason = reason
        retry_after = setup.detail.get("retry_after")
        if line.paused_until is None and (line.trial or line.failures >= line.outage_after):
            self._pause_line(line, retry_after)
        return call_services.CARRIER_FAILED

    def _pause_line(self, line: LineRuntime, retry_after: object) -> None:
        settings = next(
            (row.settings or {} for row in self.lines_config if row.pk == line.line_id), {}
        )
        base = float(settings.get("outage_backoff", OUTAGE_BACKOFF))
        line.backoff = min(OUTAGE_BACKOFF_MAX, line.backoff * 2 if line.backoff else base)
        pause = line.backoff
        if isinstance(retry_after, int | float) and retry_after > 0:
            pause = max(pause, min(float(retry_after), RETRY_AFTER_MAX))
        line.paused_until = self.clock.monotonic() + pause
        line.out, line.trial = True, False
        until = self.clock.now() + timedelta(seconds=pause)
        log.warning(
            "line %s: %s carrier failures in a row (%s), no call for %.0f s",
            line.name,
            line.failures,
            line.reason,
            pause,
        )
        self._spawn(
            self._db_retry(
                line_services.report_line_outage,
                line_id=line.line_id,
                reason=str(line.reason),
                failures=line.failures,
                until=until,
                dialer=self.owner,
                now=self.clock.now(),
                what="reporting an outage",
            )
        )
