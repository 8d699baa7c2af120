"""`manage.py dialer` as a process, calling SIPp callees over real SIP, killed and stopped:

- kill -9 while calls are answered: the next dialer recovers the dead one's jobs, records
  the calls as interrupted (not the resident hanging up, no retry of theirs used) and sends
  the BYE each dialog left open never got (the SIPp, which waits for it, finishes);
- SIGTERM while calls are answered: the dialer hangs them up (BYE), records them as
  interrupted with `stopped`, exits 0 without a traceback and leaves no call in progress.

Real processes on a real SQLite file (as test_dialer_stop). The callee is uas_silent: it
answers and waits for our BYE (the dialogue would wait half a minute for a key first).
Skipped when `sipp` is not installed, unless LINLI_REQUIRE_SIPP=1.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linli.adapters.telephony.tests.test_sip_sipp import SIPP, Sipp
from linli.voice.tests.process_setup import robot_started

if SIPP is None and os.environ.get("LINLI_REQUIRE_SIPP") != "1":
    pytestmark = pytest.mark.skip(reason="sipp (Debian sip-tester) is not installed")

ROOT = Path(__file__).resolve().parents[3]
WAIT = 60  # seconds: a bound for waiting, never a speed claim
CALLS = 2
SETUP = (
    robot_started(dwellings=4)
    + """
import os
# Exactly as many calls as the SIPp takes: the others are left out of the robot's queue.
keep = list(CallJob.objects.order_by("pk").values_list("pk", flat=True)[:CALLS])
CallJob.objects.exclude(pk__in=keep).update(state="done", last_outcome="skipped")
Line.objects.create(
    name="sip", carrier="sip", max_concurrent=10, calls_per_second=20,
    settings={"host": "127.0.0.1", "port": int(os.environ["SIPP_PORT"]), "bind": "127.0.0.1:0"},
)
"""
)
REPORT = """
import json
from linli.screening.models import ContactAttempt
from linli.voice.models import CallJob
print(json.dumps({
    "jobs": [
        {"state": j.state, "counts": j.outcome_counts, "dialog": bool(j.sip_dialog),
         "attempt": j.attempt}
        for j in CallJob.objects.exclude(last_outcome="skipped").order_by("pk")
    ],
    "attempts": [
        {"outcome": a.outcome, "detail": a.detail}
        for a in ContactAttempt.objects.order_by("pk")
    ],
}))
"""


@pytest.fixture
def env(tmp_path) -> dict:
    return {
        **os.environ,
        "LINLI_ENV": "test",
        "LINLI_VOICE_TTS": "fake",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dialer.sqlite3'}",
        "LINLI_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def prepare(env: dict, sipp: Sipp) -> None:
    env["SIPP_PORT"] = str(sipp.port)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "shell", "-c", f"CALLS = {CALLS}\n" + SETUP)


def report(env: dict) -> dict:
    return json.loads(manage(env, "shell", "-c", REPORT).strip().splitlines()[-1])


def start_dialer(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "dialer", "--line", "sip", "--progress", "0.2", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_answered(dialer: subprocess.Popen, count: int) -> list[str]:
    """Reads the dialer's progress until `count` calls are answered and on."""
    output = []
    for line in dialer.stdout:
        output.append(line)
        on = re.search(r"calls in progress (\d+) .* answered (\d+)", line)
        if on and int(on.group(1)) >= count and int(on.group(2)) >= count:
            return output
    pytest.fail("the calls were never all answered:\n" + "".join(output))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_kill_9_mid_call_the_next_dialer_records_interrupted_and_sends_the_bye(env, tmp_path):
    sipp = Sipp("uas_silent", tmp_path, calls=CALLS, timeout=WAIT * 3)
    try:
        prepare(env, sipp)
        dialer = start_dialer(env)
        try:
            wait_answered(dialer, CALLS)
            # The answered marks (and their dialogs) reach the journal, then the kill.
            database = env["DATABASE_URL"].removeprefix("sqlite:///")
            for _ in range(WAIT * 10):
                with sqlite3.connect(database, timeout=WAIT) as db:
                    (journalled,) = db.execute(
                        "select count(*) from voice_calljob "
                        "where state = 'in_call' and sip_dialog != ''"
                    ).fetchone()
                if journalled == CALLS:
                    break
                time.sleep(0.1)
            dialer.kill()  # SIGKILL: no BYE, no write
            dialer.wait(timeout=WAIT)
        finally:
            if dialer.poll() is None:
                dialer.kill()
        left = report(env)
        assert [j["state"] for j in left["jobs"]] == ["in_call"] * CALLS
        assert all(j["dialog"] for j in left["jobs"]) and not left["attempts"]
        assert sipp.process.poll() is None  # still in the calls, waiting for a BYE

        # The dead dialer's leases run out (as they would after LEASE_SECONDS).
        manage(
            env,
            "shell",
            "-c",
            "from datetime import timedelta\nfrom django.utils import timezone\n"
            "from linli.voice.models import CallJob\n"
            "CallJob.objects.filter(state='in_call').update("
            "lease_expires_at=timezone.now() - timedelta(seconds=1))",
        )
        second = start_dialer(env, "--once")
        out, _err = second.communicate(timeout=WAIT)
        assert second.returncode == 0, out
        assert "Traceback" not in out, out
        status = sipp.process.wait(timeout=WAIT)
    finally:
        sipp.stop()
    # Every dialog left open got its BYE: the SIPp saw each call to its end.
    assert status == 0, sipp.diagnostics()
    after = report(env)
    assert [a["outcome"] for a in after["attempts"]] == ["interrupted"] * CALLS
    assert all(a["detail"]["recovered"] and a["detail"]["answered"] for a in after["attempts"])
    for job in after["jobs"]:
        # Retried later, on the interrupted budget: the resident's retries are untouched.
        assert job["state"] == "waiting_retry" and job["counts"] == {"interrupted": 1}
        assert not job["dialog"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_hangs_up_records_the_calls_and_exits_cleanly(env, tmp_path):
    sipp = Sipp("uas_silent", tmp_path, calls=CALLS, timeout=WAIT * 3)
    try:
        prepare(env, sipp)
        dialer = start_dialer(env)
        try:
            output = wait_answered(dialer, CALLS)
            signalled = time.monotonic()
            dialer.send_signal(signal.SIGTERM)
            rest, _err = dialer.communicate(timeout=WAIT)
            stopped_in = time.monotonic() - signalled
        finally:
            if dialer.poll() is None:
                dialer.kill()
                dialer.wait()
        status = sipp.process.wait(timeout=WAIT)
    finally:
        sipp.stop()
    text = "".join(output) + rest
    print(f"stopped {stopped_in:.2f} s after SIGTERM")  # the figure; no assertion on time
    assert dialer.returncode == 0, text
    assert "Traceback" not in text and "stopped:" in text, text
    assert status == 0, sipp.diagnostics()  # each call got its BYE
    after = report(env)
    assert [j["state"] for j in after["jobs"]] == ["waiting_retry"] * CALLS
    assert all(j["counts"] == {"interrupted": 1} for j in after["jobs"])
    assert [a["outcome"] for a in after["attempts"]] == ["interrupted"] * CALLS
    assert all(a["detail"]["stopped"] for a in after["attempts"])
