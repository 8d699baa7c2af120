"""The dialer's outage breaker on a virtual clock: a trunk that answers every call 503 for a
while makes the line stop dialling, and the line resumes by itself once the trunk is back;
no resident's retries are used. (Over real SIP: test_robot_faults_sipp.py.)"""

from datetime import timedelta

import pytest
from django.db import OperationalError

from linli.adapters.telephony.base import CallRequest, CallSetup, Carrier
from linli.adapters.telephony.simulated import Rates, SimulatedCarrier
from linli.audit.models import AuditEvent
from linli.screening.models import ContactAttempt
from linli.voice.dialer import VirtualClock, carrier_failure, inline_db
from linli.voice.models import CallJob, JobState, VoiceAction
from linli.voice.services import calls as call_services
from linli.voice.tests.test_dialer import local, make_dialer, make_line, people, robot_campaign


class OutageCarrier(Carrier):
    """Test only: 503 with Retry-After for every call placed before `back_at` (loop time),
    then the healthy simulated carrier."""

    name = "simulated"

    def __init__(self, clock: VirtualClock, back_at: float):
        self.clock = clock
        self.back_at = back_at
        self.healthy = SimulatedCarrier(
            rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0)
        )
        self.refused: list[tuple[float, str]] = []

    async def place_call(self, request: CallRequest) -> CallSetup:
        now = self.clock.monotonic()
        if now < self.back_at:
            self.refused.append((now, request.call_id))
            return CallSetup(
                outcome="failed",
                sip_status=503,
                detail={"sip_status": 503, "reason": "Service Unavailable", "retry_after": 90},
            )
        return await self.healthy.place_call(request)


def test_carrier_failures_are_told_from_the_residents_own():
    assert carrier_failure("failed", 503, {}) == "server_error"
    assert carrier_failure("failed", 500, {}) == "server_error"
    assert carrier_failure("failed", None, {"reason": "no response (Timer B)"}) == "timeout"
    assert carrier_failure("failed", None, {"reason": "Network is unreachable"}) == "no_route"
    assert carrier_failure("busy", 486, {}) == ""
    assert carrier_failure("wrong_number", 404, {}) == ""
    assert carrier_failure("failed", 403, {}) == ""
    assert carrier_failure("answered", 200, {}) == ""


@pytest.mark.django_db
def test_a_trunk_outage_pauses_the_line_which_resumes_by_itself(world):
    people(world, 10)
    campaign = robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=2, cps=1)
    line.settings = {"outage_after": 3}
    line.save()
    carrier = OutageCarrier(clock, back_at=200.0)  # the trunk is back after 200 s
    dialer = make_dialer(clock, line, carrier, poll_seconds=1.0)
    clock.run(dialer.run(until=clock.now() + timedelta(hours=2)))

    # The line stopped after three failures in a row, kept to the carrier's Retry-After (90 s)
    # and placed one trial call per pause, not a call per resident.
    assert 3 <= len(carrier.refused) < 10
    gaps = [b - a for (a, _), (b, _) in zip(carrier.refused[2:], carrier.refused[3:], strict=False)]
    assert all(gap >= 90 for gap in gaps), gaps
    # It resumed by itself and everybody was called and answered.
    jobs = list(CallJob.objects.filter(campaign=campaign))
    assert {job.state for job in jobs} == {JobState.DONE}
    for job in jobs:
        # The calls the carrier failed count on their own budget: no resident's retries used.
        assert "failed" not in job.outcome_counts
        assert set(job.outcome_counts) <= {"answered", call_services.CARRIER_FAILED}
    refused = ContactAttempt.objects.filter(campaign=campaign, outcome="failed")
    assert refused.count() == len(carrier.refused)
    assert all(a.detail["carrier_failure"] == "server_error" for a in refused)
    line.refresh_from_db()
    assert line.outage_since is None and line.outage_reason == ""
    actions = list(
        AuditEvent.objects.filter(object_type="line", object_id=str(line.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [VoiceAction.LINE_OUTAGE, VoiceAction.LINE_RESUMED]
    assert dialer.stats.carrier_failures == len(carrier.refused)


@pytest.mark.django_db
def test_lost_connections_at_every_step_lose_no_call_and_no_answer(world, monkeypatch):
    """Each kind of database work fails once with a lost connection (the claim, the journal,
    the recording of attempts, the housekeeping): the dialer goes on and every answer is
    stored. (The real thing, pg_terminate_backend over SIPp: test_robot_faults_sipp.py.)"""
    people(world, 6)
    campaign = robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=4, cps=2)
    carrier = SimulatedCarrier(rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0))
    failing = {"claim_jobs", "_write_journal", "_write_finishes", "sweep_jobs"}
    failed: list[str] = []

    async def flaky_db(fn, /, *args, **kwargs):
        name = getattr(fn, "__name__", "")
        if name in failing:
            failing.discard(name)
            failed.append(name)
            raise OperationalError("the connection is lost")
        return await inline_db(fn, *args, **kwargs)

    # The test's transaction is the connection: nothing to drop and reopen here.
    monkeypatch.setattr("linli.voice.dialer.reset_connection", lambda: None)
    dialer = make_dialer(clock, line, carrier)
    dialer.db = flaky_db
    stats = clock.run(dialer.run(until=clock.now() + timedelta(hours=1)))

    assert sorted(failed) == ["_write_finishes", "_write_journal", "claim_jobs", "sweep_jobs"]
    assert stats.db_errors == 4
    jobs = list(CallJob.objects.filter(campaign=campaign))
    assert {job.state for job in jobs} == {JobState.DONE}
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    assert attempts.count() == len(jobs) == stats.finished
    assert {a.outcome for a in attempts} == {"answered"}
    assert stats.answers_saved == stats.answers_recorded == sum(len(a.answers) for a in attempts)
