"""Synthesis ahead of need, in worker processes, into a bounded store of files.

A dialer speaks a new identity prompt ("请确认您是张某伟本人…") on every call. Synthesising it
when the call is answered costs the engine's time plus the Python work on its output (pinyin,
levelling, resampling), which on the dialer's event loop holds the GIL every call's audio and
SIP timers need. So the dialer asks for each prompt when it claims the call, and a
`SynthesisPool` makes it in another process, storing the audio under a file named by a hash of
engine and text (which does not show the text: it holds a name) for the dialer, and the next
dialer, to read.

The store is bounded: a stored prompt read again is touched, and `prune_store` deletes the
least recently used files beyond a count.
"""

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from linli.adapters.tts.base import TTS

T = TypeVar("T")


def write_atomic(path: Path, data: bytes) -> None:
    """Writes via a temporary file and a rename, so two writers of the same prompt, or a crash
    halfway, never leave a truncated file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def synthesise_stored(tts: TTS, text: str, path: str) -> bytes:
    """The audio of `text`: read from `path` when stored there (and touched, as used), else
    synthesised and stored. Raises TTSError. Runs in a worker process (a picklable engine)."""
    target = Path(path)
    try:
        audio = target.read_bytes()
    except OSError:
        audio = b""
    if audio:
        with contextlib.suppress(OSError):
            os.utime(target)
        return audio
    audio = tts.synthesise(text)
    write_atomic(target, audio)
    return audio


# Workers run at a lower priority than the process that started them: synthesis ahead of need is
# background work, and the calls in progress (RTP every 20 ms, SIP timers) must come first.
NICENESS = 5


def _worker_init() -> None:
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    # Ctrl-C reaches the whole process group: the dialer stops its workers itself, and a
    # worker interrupted mid-prompt would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_up() -> None:
    """A worker's first task: loads what synthesis needs (the engines, pypinyin's dictionary)
    so the first prompt asked for does not wait for it."""
    from linli.adapters.tts.espeak import EspeakTTS  # noqa: F401 - imported to be loaded
    from linli.adapters.tts.speakable import to_pinyin

    to_pinyin("你好")


def prune_store(directory: str, keep: int) -> int:
    """Deletes the least recently used `.ulaw` files of `directory` beyond `keep`. Returns how
    many were deleted."""
    entries = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as it:
        for entry in it:
            if entry.name.endswith(".ulaw"):
                with contextlib.suppress(OSError):
                    entries.append((entry.stat().st_mtime, entry.path))
    if len(entries) <= keep:
        return 0
    entries.sort()
    deleted = 0
    for _mtime, path in entries[: len(entries) - keep]:
        with contextlib.suppress(OSError):
            os.unlink(path)
            deleted += 1
    return deleted


class SynthesisPool:
    """Runs synthesis in `workers` processes (started on first use, by spawning: the caller
    has threads and an event loop that a fork would copy half-way), at a lower priority. A
    pool broken by a worker's death is replaced on the next submission. `executor` replaces the
    processes (tests)."""

    def __init__(self, workers: int = 2, *, executor: Executor | None = None) -> None:
        self.workers = max(1, workers)
        self._executor = executor
        self._own = executor is None
        self._warming: list[Future[None]] = []

    def _pool(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
            # Every worker starts now (one is started per task while none is idle), rather
            # than one by one as the first prompts queue up behind a starting one.
            self._warming = [self._executor.submit(warm_up) for _ in range(self.workers)]
        return self._executor

    async def start(self, timeout: float) -> bool:
        """Starts the workers and waits, without blocking the loop, at most `timeout` seconds
        for them to be ready (a worker process imports for a second or two, much longer on a
        loaded machine). Returns whether they are."""
        self._pool()
        if not self._warming:
            return True
        done, _pending = await asyncio.wait(
            [asyncio.wrap_future(f) for f in self._warming], timeout=timeout
        )
        return len(done) == len(self._warming)

    def submit(self, fn: Callable[..., T], *args: Any) -> "asyncio.Future[T]":
        """Runs fn(*args) in a worker; the result as a future of the running loop."""
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(self._pool(), fn, *args)
        except BrokenProcessPool:
            self._discard()
            return loop.run_in_executor(self._pool(), fn, *args)

    def _discard(self) -> None:
        if self._own and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        """Stops the workers; synthesis not started is dropped."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            if self._own:
                self._executor = None
