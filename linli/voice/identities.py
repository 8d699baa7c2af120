"""The identity prompts of the calls a dialer has claimed, made ahead in worker processes.

"请确认您是张某伟本人…" names the person, so with a new name on every call it is synthesised on
every call. Made when the call is answered, on the dialer's event loop (or in a thread, which
still holds the GIL for the Python half of the work), it stalled every other call's audio and
SIP timers. So:

- when the dialer claims a call, `prefetch` sends the prompt to a `SynthesisPool` (processes
  of their own), which reads it from the store or synthesises and stores it; it has the pacer's
  wait, the ringing and the intro to be ready;
- when the dialogue needs it, `get` returns it at once when it is ready; otherwise it waits,
  without blocking the loop, at most `wait` seconds more, then returns None and the dialogue
  says the generic prompt (script.GENERIC_IDENTITY, which names nobody) rather than leave the
  resident in silence.

Engines that do not block (the fake one of tests and the virtual-time bench) are used inline, as
before. The memory cache (script.IDENTITY_CACHE_SIZE per script) and the store on disk
(script.IDENTITY_STORE_SIZE files, least recently used pruned by `prune`) are bounded.
"""

import asyncio
import logging

from linli.adapters.telephony.base import Prompt
from linli.adapters.tts.ahead import SynthesisPool, prune_store, synthesise_stored
from linli.voice.script import (
    IDENTITY_STORE_SIZE,
    Script,
    cached_identity,
    identity_path,
    identity_prompt,
    identity_store,
    identity_text,
    remember_identity,
)

log = logging.getLogger(__name__)

# Seconds the dialogue may wait, after the intro, for a prompt still being made.
IDENTITY_WAIT = 0.3


# Synthesis processes. A worker mostly waits for its espeak-ng child (about 15 ms of CPU for an
# identity prompt, 4 ms of its own), so there are more workers than cores: on a busy machine
# the waits, not the CPU, bound how many prompts a second they make.
WORKERS = 4


class IdentityPrompts:
    def __init__(
        self,
        *,
        pool: SynthesisPool | None = None,
        wait: float | None = IDENTITY_WAIT,
        store_size: int = IDENTITY_STORE_SIZE,
    ) -> None:
        self.pool = pool or SynthesisPool(WORKERS)
        self.wait = wait
        self.store_size = store_size
        self._pending: dict[tuple[str, str], asyncio.Future[bytes]] = {}
        self.made_ahead = 0  # prompts a worker made or read from the store
        self.not_ready = 0  # times `get` gave up waiting (the generic prompt was said)
        self.failed = 0
        self._used = False  # whether the pool was ever asked (its processes started)

    @property
    def started(self) -> bool:
        """Whether worker processes make the prompts (the engine blocks)."""
        return self._used

    async def start(self, timeout: float = 15.0) -> bool:
        """Starts the worker processes before the first call needs them; waits at most
        `timeout` seconds (the loop free). Returns whether they are ready."""
        self._used = True
        ready = await self.pool.start(timeout)
        if not ready:
            log.warning("identity prompt workers not ready after %.0f s", timeout)
        return ready

    def prefetch(self, script: Script, masked_name: str) -> None:
        """Starts making the prompt in a worker unless it is in memory or under way."""
        if not script.tts.blocking or not masked_name:
            return
        self._start(script, identity_text(masked_name))

    def _start(self, script: Script, text: str) -> "asyncio.Future[bytes] | None":
        key = (script.engine, text)
        pending = self._pending.get(key)
        if pending is not None:
            return pending
        with script._lock:
            if text in script._identities:
                return None
        path = str(identity_path(script, text))
        try:
            future = self.pool.submit(synthesise_stored, script.tts, text, path)
        except Exception:  # the workers cannot be started: the generic prompt, not a lost call
            log.exception("identity prompt workers unavailable")
            self.failed += 1
            return None
        self._used = True
        self._pending[key] = future

        def done(future: "asyncio.Future[bytes]") -> None:
            self._pending.pop(key, None)
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                self.made_ahead += 1
                remember_identity(script, text, future.result())
                return
            # A dead worker breaks the pool: the next submission starts a new one.
            self.failed += 1
            log.warning("identity prompt not synthesised: %s", error)

        future.add_done_callback(done)
        return future

    async def get(self, script: Script, masked_name: str) -> Prompt | None:
        """The identity prompt of a masked name: at once when ready, after waiting at most
        `wait` seconds (the loop free meanwhile) when being made, None when not ready then or
        when synthesis failed."""
        prompt = cached_identity(script, masked_name)
        if prompt is not None:
            return prompt
        if not script.tts.blocking:
            return identity_prompt(script, masked_name)
        text = identity_text(masked_name)
        future = self._start(script, text)
        if future is None:  # made meanwhile, or no worker to make it
            return cached_identity(script, masked_name)
        try:
            # None: wait as long as it takes (virtual time, where any bound passes at once).
            audio = await asyncio.wait_for(asyncio.shield(future), self.wait)
        except Exception:  # not ready in time (it goes on, for a retry), or failed
            self.not_ready += 1
            return None
        return remember_identity(script, text, audio)

    def prune(self) -> None:
        """Trims the store on disk to `store_size` files, in a worker (fire and forget), once
        the pool has been used."""
        if not self._used:
            return
        future = self.pool.submit(prune_store, str(identity_store()), self.store_size)
        future.add_done_callback(_log_prune)

    def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self.pool.close()


def _log_prune(future: "asyncio.Future[int]") -> None:
    if future.cancelled():
        return
    if future.exception() is not None:
        log.warning("identity prompt store not pruned: %s", future.exception())
    elif future.result():
        log.info("identity prompt store: %s least recently used prompts deleted", future.result())
