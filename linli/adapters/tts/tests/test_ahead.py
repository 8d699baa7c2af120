"""Synthesis ahead of need: in another process, into a bounded store of files."""

import asyncio
import os
import time

from linli.adapters.tts import FakeTTS
from linli.adapters.tts.ahead import SynthesisPool, prune_store, synthesise_stored


def test_synthesis_runs_in_a_worker_process_and_is_stored(tmp_path):
    # The worker is another process: its CPU work cannot hold this one's event loop (GIL).
    target = tmp_path / "identity" / "abc.ulaw"

    async def scenario():
        pool = SynthesisPool(1)
        try:
            pid = await pool.submit(os.getpid)
            audio = await pool.submit(
                synthesise_stored, FakeTTS(), "请确认您是张某伟本人", str(target)
            )
        finally:
            pool.close()
        return pid, audio

    pid, audio = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert pid != os.getpid()
    assert audio == FakeTTS().synthesise("请确认您是张某伟本人")
    assert target.read_bytes() == audio


def test_a_stored_prompt_is_read_not_synthesised_again(tmp_path):
    tts = FakeTTS()
    path = str(tmp_path / "p.ulaw")
    first = synthesise_stored(tts, "请按1。", path)
    again = synthesise_stored(tts, "请按1。", path)
    assert first == again and tts.calls == ["请按1。"]


def test_the_store_keeps_the_most_recently_used_prompts(tmp_path):
    now = time.time()
    for i in range(5):
        path = tmp_path / f"{i}.ulaw"
        path.write_bytes(b"\xff" * 8)
        os.utime(path, (now - 100 + i, now - 100 + i))  # 0 the oldest, 4 the newest
    (tmp_path / "manifest.json").write_text("{}")  # not a prompt: never pruned
    # Prompt 0 is used again: reading it counts as a use.
    synthesise_stored(FakeTTS(), "unused", str(tmp_path / "0.ulaw"))
    assert prune_store(str(tmp_path), keep=3) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "0.ulaw",
        "3.ulaw",
        "4.ulaw",
        "manifest.json",
    ]
    assert prune_store(str(tmp_path), keep=3) == 0
    assert prune_store(str(tmp_path / "missing"), keep=3) == 0


def test_workers_run_at_a_lower_priority_than_their_dialer():
    async def scenario():
        pool = SynthesisPool(1)
        try:
            return await pool.submit(os.nice, 0)
        finally:
            pool.close()

    assert asyncio.run(asyncio.wait_for(scenario(), 120)) > os.nice(0)


def test_a_pool_broken_by_a_dead_worker_is_replaced_on_the_next_submission():
    from concurrent.futures.process import BrokenProcessPool

    async def scenario():
        pool = SynthesisPool(1)
        try:
            try:
                await pool.submit(os._exit, 1)  # the worker dies under its task
            except BrokenProcessPool:
                died = True
            return died, await pool.submit(os.getpid)
        finally:
            pool.close()

    died, pid = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert died and pid != os.getpid()
