"""The phone robot under faults, over real SIP to SIPp callees (the Dialer with its real clock
and its database work in a thread, as in production):

- the database connection killed mid-campaign (pg_terminate_backend, PostgreSQL only): every
  answer is kept and the dialer goes on to the end of the campaign;
- a crash while calls ring (the dialer task cancelled: nothing more written): a job claimed
  ahead of the pace and never dialled goes back to the queue with no attempt, a call that
  rang is recorded as interrupted, and no resident's retries are used;
- a 503 storm (every call answered 503 with Retry-After): the line stops dialling, says why on
  the robot page, alerts the lead, and no resident's retries are used.

The kill -9 of a dialer process (a BYE for the dialogs it left open) and SIGTERM are in
test_dialer_process_sipp.py. Skipped when `sipp` is not installed, unless LINLI_REQUIRE_SIPP=1.
"""

import asyncio
import contextlib
import os
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from linli.adapters.telephony.base import CallRequest, CallSetup, Carrier
from linli.adapters.telephony.sip import SipCarrier, SipConfig
from linli.adapters.telephony.tests.test_sip_sipp import SIPP, Sipp
from linli.audit.models import AuditEvent
from linli.screening.models import CampaignTarget, ContactAttempt
from linli.screening.tests.builders import add_person
from linli.voice.dialer import Dialer
from linli.voice.models import CallJob, JobState, Line, VoiceAction
from linli.voice.services import calls as call_services
from linli.voice.tests.test_robot_calls_sipp import KEYS, robot_campaign

if SIPP is None and os.environ.get("LINLI_REQUIRE_SIPP") != "1":
    pytestmark = pytest.mark.skip(reason="sipp (Debian sip-tester) is not installed")

WAIT = 120  # seconds: a bound for waiting, never a speed claim


class CountingCarrier(Carrier):
    """Test only: a SipCarrier to one SIPp that remembers which calls it placed."""

    name = "sip"

    def __init__(self, sip: SipCarrier):
        self.sip = sip
        self.requests: list[CallRequest] = []

    async def place_call(self, request: CallRequest) -> CallSetup:
        self.requests.append(request)
        return await self.sip.place_call(request)

    async def end_dialog(self, dialog: dict) -> bool:
        return await self.sip.end_dialog(dialog)

    async def close(self) -> None:
        await self.sip.close()


def sip_line(sipp: Sipp, *, concurrent: int, cps: float, **settings) -> Line:
    return Line.objects.create(
        name="SIP 测试线路",
        carrier="sip",
        settings={"host": "127.0.0.1", "port": sipp.port, "bind": "127.0.0.1:0", **settings},
        max_concurrent=concurrent,
        calls_per_second=cps,
    )


def residents(world, count: int) -> list:
    return [
        add_person(world.a.dwellings[1], f"居民{i}", 800 + i, phone=f"1350000{800 + i:04d}")
        for i in range(count)
    ]


def make_dialer(line: Line, carriers: list[CountingCarrier], **kwargs) -> Dialer:
    def carrier_for_line(row: Line) -> Carrier:
        config = SipConfig.from_settings(row.settings, max_calls=row.max_concurrent)
        carriers.append(CountingCarrier(SipCarrier(config)))
        return carriers[-1]

    kwargs.setdefault("ring_timeout", 30.0)
    return Dialer(lines=[line], carrier_for_line=carrier_for_line, **kwargs)


async def close_thread_connections() -> None:
    # The dialer's database work ran in asgiref's thread: close its connection so the test
    # database can be flushed and dropped.
    await sync_to_async(connections.close_all, thread_sensitive=True)()


async def until(condition, what: str) -> None:
    for _ in range(WAIT * 20):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def kill_other_backends(spared: int) -> int:
    """pg_terminate_backend on every connection to the test database but this one and the
    test's own (`spared`): the dialer's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
            [spared],
        )
        killed = cursor.fetchone()[0]
    connection.close()
    return killed


@pytest.mark.django_db(transaction=True)
def test_a_killed_database_connection_keeps_every_answer_and_the_dialer_running(world, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL (DATABASE_URL=postgres://…)")
    count = 6
    people = [world.resident_a, world.resident_a2, *residents(world, count - 2)]
    # Every callee is one SIPp that says yes to everything (1, then 1 to each question).
    sipp = Sipp("uas_robot_yes", tmp_path, calls=count, timeout=WAIT)
    line = sip_line(sipp, concurrent=count, cps=2)
    campaign, _robot = robot_campaign(world, line)
    carriers: list[CountingCarrier] = []
    dialer = make_dialer(line, carriers)
    test_pid = backend_pid()

    async def run():
        task = asyncio.create_task(dialer.run(once=True))
        kills = 0
        try:
            kill = sync_to_async(kill_other_backends, thread_sensitive=False)
            # Kill the dialer's connection once answers are being journalled…
            await until(lambda: dialer.stats.answers_saved >= 1 or task.done(), "an answer")
            assert not task.done(), "the campaign ended before the connection was killed"
            kills += await kill(test_pid)
            saved = dialer.stats.answers_saved
            # …and again once it reconnected and wrote more, if calls are still talking.
            await until(
                lambda: (
                    (dialer.stats.db_errors and dialer.stats.answers_saved > saved) or task.done()
                ),
                "answers written after the reconnection",
            )
            if not task.done():
                kills += await kill(test_pid)
            stats = await asyncio.wait_for(task, WAIT)
            status = await sipp.finish(timeout=WAIT)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await close_thread_connections()
        return stats, status, kills

    try:
        stats, status, kills = asyncio.run(run())
    finally:
        sipp.stop()
    assert status == 0, sipp.diagnostics()
    assert kills >= 1
    # The dialer saw the connection go, reconnected and went on to the end of the campaign.
    assert stats.db_errors >= 1
    assert stats.placed == stats.finished == count
    for person in people:
        target = CampaignTarget.objects.get(campaign=campaign, person=person)
        attempts = list(ContactAttempt.objects.filter(target=target))
        assert [(a.outcome, a.answers) for a in attempts] == [
            ("answered", dict.fromkeys(KEYS, True))
        ], person
        assert target.status == "reached" and target.answers == dict.fromkeys(KEYS, True)
        assert CallJob.objects.get(target=target).state == JobState.DONE


@pytest.mark.django_db(transaction=True)
def test_a_crash_while_calls_ring_records_no_attempt_for_a_job_never_dialled(world, tmp_path):
    count = 6
    people = residents(world, count)
    # Every call rings and is never answered (the SIPp expects our CANCEL at the ring timeout).
    sipp = Sipp("uas_no_answer", tmp_path, calls=count, timeout=WAIT)
    # One call a second with two seconds of starts claimed ahead: some jobs wait their turn.
    line = sip_line(sipp, concurrent=count, cps=1)
    campaign, _robot = robot_campaign(world, line)
    carriers: list[CountingCarrier] = []
    # No call ends by itself before the crash, however slow the machine.
    dialer = make_dialer(line, carriers, ring_timeout=WAIT * 5)

    async def crash():
        task = asyncio.create_task(dialer.run())
        try:

            def ringing_and_waiting() -> bool:
                # Two INVITEs out (each call placed has rung: no mark is still being
                # written) and a job claimed that waits for its turn.
                flights = list(dialer._flights.values())
                placed = [f for f in flights if f.placed]
                sent = carriers[0].requests if carriers else []
                return (
                    len(sent) >= 2
                    and len(sent) == len(placed)
                    and any(not f.placed for f in flights)
                )

            await until(ringing_and_waiting, "calls ringing while others wait their turn")
            waiting = {f.call.job_id for f in dialer._flights.values() if not f.placed}
        finally:
            # The crash: the task dies, nothing more is written to the database.
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            await close_thread_connections()
        return waiting

    try:
        waiting = asyncio.run(crash())
    finally:
        sipp.stop()
    dialled = {int(r.call_id.split("-")[0][1:]) for r in carriers[0].requests}
    assert waiting and dialled and not waiting & dialled

    # The dead dialer's leases expire; the next one takes its jobs back.
    later = timezone.now() + timedelta(seconds=call_services.LEASE_SECONDS + 1)
    recovery = call_services.recover_expired(now=later)
    jobs = {job.pk: job for job in CallJob.objects.filter(campaign=campaign)}
    assert len(jobs) >= len(people)  # and the world's residents with a phone
    claimed = {pk for pk, job in jobs.items() if job.attempt or job.state != JobState.QUEUED}
    assert recovery.closed == len(dialled)
    assert recovery.released >= len(waiting)
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    # One attempt per call that rang, none for a job never dialled.
    assert attempts.count() == len(carriers[0].requests) == len(dialled)
    for pk, job in jobs.items():
        if pk in dialled:
            attempt = attempts.get(idempotency_key=job.call_id)
            assert attempt.outcome == "interrupted" and attempt.detail["recovered"] is True
            assert job.state == JobState.WAITING_RETRY and job.attempt == 1
            # Not the resident's doing: none of their retries is used.
            assert job.outcome_counts == {"interrupted": 1}
        else:
            assert not attempts.filter(target_id=job.target_id).exists()
            assert (job.state, job.attempt, job.call_id, job.outcome_counts) == (
                JobState.QUEUED,
                0,
                "",
                {},
            )
            assert job.lease_owner == "" and job.lease_expires_at is None
    assert claimed >= dialled


@pytest.mark.django_db(transaction=True)
def test_a_503_storm_pauses_the_line_and_uses_no_residents_retries(world, tmp_path, client):
    count = 8
    residents(world, count)
    sipp = Sipp("uas_unavailable", tmp_path, calls=count * 2, timeout=WAIT)
    # Two calls at a time, four starts claimed ahead; three carrier failures stop the line.
    line = sip_line(sipp, concurrent=2, cps=2, outage_after=3)
    campaign, _robot = robot_campaign(world, line)
    carriers: list[CountingCarrier] = []
    dialer = make_dialer(line, carriers)

    async def run():
        try:
            # Until nothing more is dialled: the paused line claims no call.
            return await asyncio.wait_for(dialer.run(once=True), WAIT)
        finally:
            await close_thread_connections()

    try:
        stats = asyncio.run(run())
    finally:
        sipp.stop()
    jobs = list(CallJob.objects.filter(campaign=campaign))
    placed = len(carriers[0].requests)
    # The line stopped dialling: not every resident was called.
    assert 3 <= placed < len(jobs)
    assert stats.carrier_failures == placed
    line.refresh_from_db()
    assert line.outage_since is not None and line.outage_reason == "server_error"
    assert line.outage_failures >= 3
    # The carrier's Retry-After (120 s) is honoured over the line's own first backoff (30 s).
    assert (line.outage_until - line.outage_since).total_seconds() >= 100

    # Nobody's retries were used: the calls the carrier failed count on their own budget,
    # the jobs never dialled are untouched.
    for job in jobs:
        assert job.state in (JobState.QUEUED, JobState.WAITING_RETRY), job.state
        assert "failed" not in job.outcome_counts
        assert set(job.outcome_counts) <= {call_services.CARRIER_FAILED}
    failed = ContactAttempt.objects.filter(campaign=campaign)
    assert failed.count() == placed
    assert all(a.detail.get("carrier_failure") == "server_error" for a in failed)

    # The lead is told: an audit event in the campaign's area, and the robot page says why.
    events = AuditEvent.objects.filter(action=VoiceAction.LINE_OUTAGE, object_id=str(line.pk))
    assert list(events.values_list("area_path", flat=True)) == [campaign.area_path]
    client.force_login(world.lead_a)
    page = client.get(reverse("voice:live", args=[campaign.pk])).content.decode()
    assert "暂停拨号" in page and "服务器错误" in page and "不占用居民的重拨次数" in page
