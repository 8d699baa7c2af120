"""Call setups per second sustained by the direct SIP adapter against SIPp on loopback.

Each call: INVITE → 180 → 200 (SDP) → ACK, the callee presses 1 (RFC 2833 events from the pcap
SIPp ships, 0.3 s after answering), we read the key through the RTP session and hang up
(BYE → 200). A call counts only when its key arrived. Prints, never asserts.

    .venv/bin/python tests/sipp/measure_setups.py --calls 400 --concurrency 60
"""

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from linli.adapters.telephony.base import CallRequest  # noqa: E402
from linli.adapters.telephony.sip import SipCarrier, SipConfig  # noqa: E402

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def measure(calls: int, concurrency: int, scenario: str) -> dict:
    port, media = free_port(), free_port() & ~1
    errors = Path(tempfile.mkdtemp()) / "errors.log"
    sipp = subprocess.Popen(
        [
            shutil.which("sipp") or "sipp",
            "-sf",
            str(HERE / f"{scenario}.xml"),
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "-mi",
            "127.0.0.1",
            "-mp",
            str(media),
            "-m",
            str(calls),
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(errors),
            "-timeout",
            "300s",
        ],
        cwd=HERE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(0.3)
    carrier = SipCarrier(
        SipConfig(
            proxy_host="127.0.0.1", proxy_port=port, bind_host="127.0.0.1", max_calls=concurrency
        )
    )
    outcomes: dict[str, int] = {}
    keys_right = 0
    setup_times: list[float] = []

    async def one(i: int) -> None:
        nonlocal keys_right
        t0 = time.perf_counter()
        setup = await carrier.place_call(CallRequest(call_id=f"bench-{i}", number="13800138000"))
        setup_times.append(time.perf_counter() - t0)
        outcomes[setup.outcome] = outcomes.get(setup.outcome, 0) + 1
        if setup.session is not None:
            digits = await setup.session.collect(max_digits=1, first_timeout=5)
            await setup.session.hangup()
            keys_right += digits == "1"

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    elapsed = time.perf_counter() - started
    await carrier.close()
    status = await asyncio.to_thread(sipp.wait, 60)
    setup_times.sort()
    return {
        "calls": calls,
        "concurrency": concurrency,
        "elapsed_s": round(elapsed, 2),
        "setups_per_s": round(calls / elapsed, 1),
        "answered_with_key_per_s": round(keys_right / elapsed, 1),
        "outcomes": outcomes,
        "keys_right": keys_right,
        "setup_p50_ms": round(1000 * setup_times[len(setup_times) // 2], 1),
        "setup_p95_ms": round(1000 * setup_times[int(len(setup_times) * 0.95)], 1),
        "sipp_exit": status,
        "sipp_error_log": str(errors) if errors.exists() and errors.stat().st_size else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=60)
    parser.add_argument("--scenario", default="uas_press_1")
    args = parser.parse_args()
    result = asyncio.run(measure(args.calls, args.concurrency, args.scenario))
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    print(
        f"{'per hour':>24}: {result['answered_with_key_per_s'] * 3600:,.0f} "
        f"(vendor figure 50,000/h = 13.9/s; aim ≥ 14/s) on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
