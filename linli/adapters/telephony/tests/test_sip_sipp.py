"""Real calls from SipCarrier to SIPp (Debian's sip-tester) on loopback: the UAS scenarios in
tests/sipp/ answer and press keys (RFC 2833/4733 events replayed from pcaps), stay silent,
hang up, are busy, never answer, do not exist, or ask for digest credentials. Outcomes and the
digits received through the RTP session must be exactly right, and SIPp must have seen the
whole dialogue it expects (its exit status).

Skipped when `sipp` is not installed, unless LINLI_REQUIRE_SIPP=1 (CI)."""

import asyncio
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from linli.adapters.telephony.base import CallRequest, HungUp
from linli.adapters.telephony.sip import SipCarrier, SipConfig

SIPP = shutil.which("sipp")
SCENARIOS = Path(__file__).resolve().parents[4] / "tests" / "sipp"
NUMBER = "13800138000"

if SIPP is None and os.environ.get("LINLI_REQUIRE_SIPP") != "1":
    pytestmark = pytest.mark.skip(reason="sipp (Debian sip-tester) is not installed")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_media_port() -> int:
    """SIPp binds its media port and the ones just above it (RTP, RTCP, video)."""
    while True:
        port = free_port() & ~1
        if port < 65000 and all(_bindable(port + i) for i in range(4)):
            return port


class Sipp:
    """One SIPp UAS run in the foreground (no curses screen: -nostdin, output discarded)."""

    def __init__(self, scenario: str, tmp_path: Path, *, calls: int = 1, timeout: int = 20):
        assert SIPP is not None, "sipp is required (LINLI_REQUIRE_SIPP=1)"
        self.port = free_port()
        self.errors = tmp_path / f"{scenario}.errors.log"
        self.process = subprocess.Popen(
            [
                SIPP,
                "-sf",
                str(SCENARIOS / f"{scenario}.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-mi",
                "127.0.0.1",
                "-mp",
                str(free_media_port()),
                "-m",
                str(calls),
                "-nostdin",
                "-trace_err",
                "-error_file",
                str(self.errors),
                "-timeout",
                f"{timeout}s",
                "-timeout_error",
            ],
            cwd=SCENARIOS,  # the scenarios name their own pcaps relative to it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def finish(self, timeout: float = 15) -> int:
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def diagnostics(self) -> str:
        errors = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        return errors[-3000:] + (self.process.stderr.read() or b"").decode(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def carrier(sipp: Sipp, **options) -> SipCarrier:
    return SipCarrier(
        SipConfig(
            proxy_host="127.0.0.1",
            proxy_port=sipp.port,
            bind_host="127.0.0.1",
            from_user="linli",
            **options,
        )
    )


def call(scenario: str, tmp_path: Path, body, *, calls: int = 1, **options):
    """Runs SIPp with `scenario`, then `body(carrier)`; returns what body returned and SIPp's
    exit status (0: every call went as the scenario expects)."""
    sipp = Sipp(scenario, tmp_path, calls=calls)

    async def run():
        sip = carrier(sipp, **options)
        try:
            result = await asyncio.wait_for(body(sip), 20)
        finally:
            await sip.close()
        status = await sipp.finish()
        return result, status

    try:
        result, status = asyncio.run(run())
    finally:
        sipp.stop()
    assert status == 0, f"SIPp exit {status}: {sipp.diagnostics()}"
    return result


def request(**fields) -> CallRequest:
    return CallRequest(call_id="attempt-1", number=NUMBER, **fields)


async def answered_digits(sip: SipCarrier, *, max_digits: int = 1, timeout: float = 5.0):
    setup = await sip.place_call(request())
    assert setup.outcome == "answered", setup
    digits = await setup.session.collect(max_digits=max_digits, first_timeout=timeout)
    await setup.session.hangup()
    assert setup.session.hung_up
    return setup, digits


def assert_no_number(setup) -> None:
    assert NUMBER not in repr(setup.detail)


def test_callee_presses_1_from_sipps_own_pcap(tmp_path):
    setup, digits = call("uas_press_1", tmp_path, answered_digits)
    assert digits == "1"
    assert setup.sip_status == 200
    assert setup.detail["sip_status"] == 200
    assert setup.detail["call_id"]
    assert setup.detail["telephone_event"] is True
    assert_no_number(setup)


def test_callee_presses_2_from_our_generated_rfc4733_pcap(tmp_path):
    _setup, digits = call("uas_press_2", tmp_path, answered_digits)
    assert digits == "2"


def test_silent_callee_gets_nothing_and_we_hang_up(tmp_path):
    async def body(sip):
        setup = await sip.place_call(request())
        assert setup.outcome == "answered"
        digits = await setup.session.collect(max_digits=1, first_timeout=1.0)
        await setup.session.hangup()
        return digits

    assert call("uas_silent", tmp_path, body) == ""


def test_callee_hanging_up_ends_the_session(tmp_path):
    async def body(sip):
        setup = await sip.place_call(request())
        assert setup.outcome == "answered"
        with pytest.raises(HungUp):
            await setup.session.collect(max_digits=1, first_timeout=8.0)
        assert setup.session.hung_up
        await setup.session.hangup()  # idempotent: no second BYE
        return sip.active_calls

    assert call("uas_hangs_up", tmp_path, body) == 0


@pytest.mark.parametrize(
    ("scenario", "outcome", "status"),
    [
        ("uas_busy", "busy", 486),
        ("uas_not_found", "wrong_number", 404),
        ("uas_no_answer", "no_answer", 487),
    ],
)
def test_unanswered_calls_are_classified(tmp_path, scenario, outcome, status):
    async def body(sip):
        return await sip.place_call(request(ring_timeout=1.0)), sip.active_calls

    setup, active = call(scenario, tmp_path, body)
    assert setup.outcome == outcome
    assert setup.sip_status == status
    assert setup.session is None
    assert active == 0  # the line is free again
    assert_no_number(setup)


def test_digest_authentication(tmp_path):
    setup, digits = call("uas_auth", tmp_path, answered_digits, username="robot", password="s3cret")
    assert setup.outcome == "answered"
    assert digits == "1"


def test_wrong_credentials_fail(tmp_path):
    async def body(sip):
        return await sip.place_call(request())

    setup = call("uas_auth", tmp_path, body, username="robot", password="wrong")
    assert setup.outcome == "failed"
    assert setup.sip_status == 403


def test_early_media_then_answer(tmp_path):
    setup, digits = call("uas_early_media", tmp_path, answered_digits)
    assert setup.detail["early_media"] is True
    assert digits == "1"


def test_concurrent_calls_over_one_socket(tmp_path):
    async def body(sip):
        return await asyncio.gather(*(answered_digits(sip) for _ in range(6)))

    results = call("uas_press_1", tmp_path, body, calls=6)
    assert [digits for _setup, digits in results] == ["1"] * 6
    assert len({setup.detail["call_id"] for setup, _digits in results}) == 6


def test_registration_refused_is_logged_not_raised(tmp_path):
    sipp = Sipp("uas_register", tmp_path)

    async def run():
        sip = carrier(
            sipp,
            registrar_host="127.0.0.1",
            registrar_port=sipp.port,
            username="robot",
            password="wrong",
        )
        await sip.transport()
        state = (sip.registration.registered, sip.registration.last_status)
        await sip.close()
        return state, await sipp.finish()

    try:
        state, sipp_status = asyncio.run(run())
    finally:
        sipp.stop()
    assert sipp_status == 0, sipp.diagnostics()
    assert state == (False, 403)


def test_registration_with_digest_and_removal_on_close(tmp_path):
    sipp = Sipp("uas_register", tmp_path)

    async def run():
        sip = carrier(
            sipp,
            registrar_host="127.0.0.1",
            registrar_port=sipp.port,
            username="robot",
            password="s3cret",
        )
        await sip.transport()
        registration = sip.registration
        state = (registration.registered, registration.granted, registration.last_status)
        await sip.close()  # REGISTER with Expires: 0
        return state, registration.registered, await sipp.finish()

    try:
        (registered, granted, status), after_close, sipp_status = asyncio.run(run())
    finally:
        sipp.stop()
    assert sipp_status == 0, sipp.diagnostics()
    assert (registered, granted, status) == (True, 120, 200)
    assert after_close is False
