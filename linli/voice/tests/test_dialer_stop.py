"""`manage.py dialer --simulated` stopped by signals, as `make run` stops it: it exits soon,
prints no traceback however many signals come, and leaves no call in progress behind (each
one finished, hung up and recorded with its answers, or given back if never placed).

A real process against a real SQLite file, so the signal handling is the command's own.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linli.voice.tests.process_setup import robot_started

ROOT = Path(__file__).resolve().parents[3]
# A liveness bound, not a speed claim: the dialer's grace here is 2 s.
EXIT_BOUND = 30.0
DIALER = [sys.executable, "manage.py", "dialer", "--simulated"]
SETUP = (
    robot_started(dwellings=8)
    + """
Line.objects.create(
    name="simulated", carrier="simulated", max_concurrent=50, calls_per_second=20,
    settings={"rates": {"answer": 1.0, "no_answer": 0, "busy": 0, "wrong_number": 0},
              "ring_seconds": [0.2, 0.5]},
)
"""
)


def manage(env: dict, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        **kwargs,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_dialer_stops_on_signals_and_leaves_no_call_in_progress(tmp_path):
    database = tmp_path / "dialer.sqlite3"
    env = {
        **os.environ,
        "LINLI_ENV": "test",
        "LINLI_VOICE_TTS": "fake",
        "DATABASE_URL": f"sqlite:///{database}",
        "LINLI_VAR_DIR": str(tmp_path / "var"),
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "shell", "-c", SETUP)

    dialer = subprocess.Popen(
        [*DIALER, "--progress", "0.5", "--stop-grace", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        # Wait until calls are on (answered and talking), then stop it the way make does:
        # a signal, and many more while it stops.
        for line in dialer.stdout:
            output.append(line)
            on = re.search(r"calls in progress (\d+) .* answered (\d+)", line)
            if on and int(on.group(1)) > 0 and int(on.group(2)) > 0:
                break
        else:
            pytest.fail("the dialer never had a call on:\n" + "".join(output))
        dialer.send_signal(signal.SIGTERM)
        for _ in range(200):
            if dialer.poll() is not None:
                break
            dialer.send_signal(signal.SIGINT if _ % 2 else signal.SIGTERM)
            time.sleep(0.001)
        rest, _err = dialer.communicate(timeout=EXIT_BOUND)
    finally:
        if dialer.poll() is None:
            dialer.kill()
            dialer.wait()
    output.append(rest)
    text = "".join(output)
    assert dialer.returncode == 0, text
    assert "Traceback" not in text and "BlockingIOError" not in text, text
    assert "stopped:" in text

    with sqlite3.connect(database) as db:
        in_progress = db.execute(
            "select count(*) from voice_calljob where state in ('dialling', 'in_call')"
        ).fetchone()[0]
        stopped = db.execute(
            "select count(*) from screening_contactattempt where detail like ?",
            ('%"stopped": true%',),
        ).fetchone()[0]
        attempts = db.execute("select count(*) from screening_contactattempt").fetchone()[0]
    assert in_progress == 0
    # The calls on at the signal were hung up after the grace and recorded (or finished).
    assert attempts > 0 and stopped > 0, text
