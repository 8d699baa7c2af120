"""The dialer's rules on a virtual clock with the simulated carrier and the real dialogue:
calling hours, retries, line caps, do-not-call, one call per person, the vulnerable first,
pause, and crash and resume."""

import asyncio
import contextlib
import itertools
from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from linli.adapters.telephony.simulated import (
    HEALTHY_KEYS,
    PERSONAS,
    Persona,
    Rates,
    SimulatedCarrier,
)
from linli.adapters.tts import FakeTTS
from linli.registry.models import VulnerableTag
from linli.screening.channels import get_channel
from linli.screening.models import CampaignTarget, ContactAttempt, QuestionnaireVersion
from linli.screening.selectors import door_knocks as door_knock_selectors
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import followups as followup_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import add_person
from linli.voice.channels import RobotPhoneChannel
from linli.voice.dialer import Dialer, Pacer, VirtualClock, inline_db
from linli.voice.models import ACTIVE_STATES, CallJob, JobState, Line, default_retry_rules
from linli.voice.script import script_for
from linli.voice.services import calls as call_services
from linli.voice.services import do_not_call as do_not_call_services
from linli.voice.services import robots as robot_services

TZ = timezone.get_default_timezone()


# Virtual days start tomorrow: jobs queued now (real time) are due by then.
DAY = timezone.localdate() + timedelta(days=1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time on virtual day `day` (0: tomorrow)."""
    moment = datetime.combine(DAY + timedelta(days=day), time(hour, minute))
    return timezone.make_aware(moment, TZ)


def fake_scripts(version_id: int):
    return script_for(QuestionnaireVersion.objects.get(pk=version_id), tts=FakeTTS())


def robot_campaign(world, *, name="每日健康监测", rules=None, hours=(time(8), time(21))):
    """A running daily-symptoms campaign over community A with its robot started."""
    questionnaire = questionnaire_services.create_questionnaire(
        name=name, area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name=name,
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["phone", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    robot_services.robot_of(campaign)
    robot_services.configure_robot(
        campaign=campaign,
        by=world.lead_a,
        calling_start=hours[0],
        calling_end=hours[1],
        retry_rules=rules or default_retry_rules(),
    )
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    return campaign


def make_line(name="sim", *, concurrent=10, cps=5.0) -> Line:
    return Line.objects.create(
        name=name, carrier="simulated", max_concurrent=concurrent, calls_per_second=cps
    )


def make_dialer(clock, line, carrier, **kwargs) -> Dialer:
    kwargs.setdefault("idle_seconds", 60.0)
    kwargs.setdefault("housekeeping_seconds", 300.0)
    return Dialer(
        lines=[line],
        carrier_for_line=lambda _line: carrier,
        clock=clock,
        db=inline_db,
        scripts=fake_scripts,
        **kwargs,
    )


def wall(clock: VirtualClock, loop_time: float) -> datetime:
    return clock.start + timedelta(seconds=loop_time)


def people(world, count: int, *, start: int = 400, tags=()):
    """`count` more residents of community A, each with their own phone."""
    return [
        add_person(
            world.a.dwellings[1],
            f"居民{i}",
            start + i,
            phone=f"1350000{start + i:04d}",
            tags=tags,
        )
        for i in range(count)
    ]


@pytest.fixture
def healthy_carrier():
    return SimulatedCarrier(rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0))


# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_robot_channel_is_registered_and_queues_a_call(world):
    channel = get_channel("phone")
    assert isinstance(channel, RobotPhoneChannel)
    campaign = robot_campaign(world)
    target = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    dispatch = channel.send(target=target)
    assert dispatch is not None and dispatch.reference == f"job:{target.call_job.pk}"


@pytest.mark.django_db
def test_answered_call_records_one_attempt_with_every_answer(world, healthy_carrier):
    campaign = robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    dialer = make_dialer(clock, make_line(), healthy_carrier)
    stats = clock.run(dialer.run(once=True))
    assert stats.finished == 2  # 张三丰 and 李秀英
    target = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    job = target.call_job
    assert job.state == JobState.DONE and job.last_outcome == "answered"
    assert job.answers == {}  # the journal is emptied once the attempt holds the answers
    assert target.status == "reached" and target.answers["temperature"] == 36.5
    # One attempt for the call: the outcome and every answer, keyed by the call id.
    final = ContactAttempt.objects.get(target=target)
    assert final.idempotency_key == job.call_id and final.channel == "phone"
    assert final.outcome == "answered" and final.by_proxy is False
    assert set(final.answers) == set(target.answers) >= {"temperature", "symptoms"}
    assert {s["attempt"] for s in target.answer_sources.values()} == {final.pk}
    assert final.detail["sip_status"] == 200
    assert final.detail["transcript"] and "13812345678" not in str(final.detail)
    assert (
        stats.answers_saved
        == stats.answers_recorded
        == sum(len(a.answers) for a in ContactAttempt.objects.filter(campaign=campaign))
    )


@pytest.mark.django_db
def test_answers_given_by_a_family_member_are_recorded_by_proxy(world):
    campaign = robot_campaign(world)
    proxy = Persona("proxy", default_keys="2", keys={**HEALTHY_KEYS, "identity": "2", "proxy": "1"})
    carrier = SimulatedCarrier(
        rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0),
        personas={"13812345678": proxy},
    )
    clock = VirtualClock(local(0, 9, 0))
    clock.run(make_dialer(clock, make_line(), carrier).run(once=True))
    target = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    attempt = ContactAttempt.objects.get(target=target)
    assert attempt.by_proxy is True and attempt.answers
    assert target.answered_by_proxy is True
    assert {s["proxy"] for s in target.answer_sources.values()} == {True}
    other = ContactAttempt.objects.get(campaign=campaign, target__person=world.resident_a2)
    assert other.by_proxy is False


@pytest.mark.django_db
def test_pressing_0_puts_the_resident_on_the_grid_door_knock_list(world):
    """0 asks for a person: after the call the target is on its grid's door-knock list as
    "said they need help" with a need-help task, and the robot calls them no more; with no
    answer given yet (李秀英) as well as after some (张三丰)."""
    campaign = robot_campaign(world)
    after_an_answer = Persona(
        "asks_after_an_answer",
        default_keys="2",
        keys={"identity": "1", "q:temperature": "365#", "q:symptoms": "0"},
    )
    at_once = Persona("asks_at_once", keys={"identity": "1", "q:temperature": "0"})
    carrier = SimulatedCarrier(
        rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0),
        personas={"13812345678": after_an_answer, "13900001111": at_once},
    )
    clock = VirtualClock(local(0, 9, 0))
    dialer = make_dialer(clock, make_line(), carrier)
    clock.run(dialer.run(once=True))
    for person in (world.resident_a, world.resident_a2):
        target = CampaignTarget.objects.get(campaign=campaign, person=person)
        assert target.status == "needs_door_knock"
        assert target.door_knock_reason == "need_help" and target.escalated_at is not None
        task = target.tasks.get()
        assert task.kind == "need_help" and task.status == "open"
        assert call_services.WANTS_PERSON_NOTE in task.reasons
        assert target.call_job.state == JobState.DONE
        attempt = ContactAttempt.objects.get(target=target)
        assert attempt.detail["wants_person"] is True
    first = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    assert first.answers == {"temperature": 36.5}
    listed = door_knock_selectors.door_knock_list(world.grid_a, campaign, world.a.grid)
    assert {m.target_id for h in listed for m in h.members if m.door_knock_reason} == set(
        CampaignTarget.objects.filter(campaign=campaign).values_list("pk", flat=True)
    )
    # The next day the robot calls neither of them again.
    later = make_dialer(VirtualClock(local(1, 9, 0)), make_line("sim2"), carrier)
    stats = later.clock.run(later.run(once=True))
    assert stats.placed == 0
    assert ContactAttempt.objects.filter(campaign=campaign).count() == 2


@pytest.mark.django_db
def test_request_visit_is_idempotent_and_need_help_outranks_other_reasons(world):
    campaign = robot_campaign(world)
    target = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    now = timezone.now()
    assert followup_services.request_visit(target=target, reason="no_phone", now=now)
    assert not followup_services.request_visit(target=target, reason="deadline", now=now)
    target.refresh_from_db()
    assert (target.status, target.door_knock_reason) == ("needs_door_knock", "no_phone")
    assert not target.tasks.exists()
    later = now + timedelta(hours=1)
    assert followup_services.request_visit(target=target, reason="need_help", now=later, note="x")
    assert not followup_services.request_visit(target=target, reason="need_help", now=later)
    target.refresh_from_db()
    assert target.door_knock_reason == "need_help" and target.escalated_at == now
    assert list(target.tasks.values_list("kind", "reasons")) == [("need_help", ["x"])]
    with pytest.raises(ValidationError):
        followup_services.request_visit(target=target, reason="bogus", now=now)
    campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    other = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a2)
    assert not followup_services.request_visit(target=other, reason="need_help", now=now)


@pytest.mark.django_db
def test_no_calls_at_night_and_calls_resume_at_eight(world):
    campaign = robot_campaign(world, rules={"no_answer": {"max": 3, "after_minutes": 30}})
    carrier = SimulatedCarrier(rates=Rates(answer=0, no_answer=1.0, busy=0, wrong_number=0))
    clock = VirtualClock(local(0, 20, 40))
    dialer = make_dialer(clock, make_line(), carrier)
    clock.run(dialer.run(until=local(1, 10, 0)))
    placed = [wall(clock, call.placed_at).astimezone(TZ) for call in carrier.calls]
    assert placed, "calls were placed"
    for moment in placed:
        assert time(8) <= moment.time() < time(21), moment
    by_number: dict[str, list[datetime]] = {}
    for call in carrier.calls:
        by_number.setdefault(call.number, []).append(wall(clock, call.placed_at))
    for times in by_number.values():
        assert len(times) == 3  # max 3 no-answers, then given up
        assert times[0].astimezone(TZ).date() == DAY  # the evening before
        second = times[1].astimezone(TZ)
        assert second.date() == DAY + timedelta(days=1) and time(8) <= second.time() < time(8, 5)
        assert times[2] - times[1] >= timedelta(minutes=30)
    jobs = CallJob.objects.filter(campaign=campaign)
    assert {j.state for j in jobs} == {JobState.GIVEN_UP}


@pytest.mark.django_db
def test_retries_follow_the_rules_of_each_outcome(world):
    busy, silent, wrong = people(world, 3)
    rules = {
        "busy": {"max": 3, "after_minutes": 10},
        "no_answer": {"max": 2, "after_minutes": 30},
        "hung_up": {"max": 2, "after_minutes": 60},
    }
    campaign = robot_campaign(world, rules=rules)
    carrier = SimulatedCarrier(
        outcomes={"13500000400": "busy", "13500000401": "no_answer", "13500000402": "wrong_number"},
        personas={"13812345678": PERSONAS["hangs_up"], "13900001111": PERSONAS["healthy"]},
        rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0),
    )
    clock = VirtualClock(local(0, 9, 0))
    dialer = make_dialer(clock, make_line(), carrier)
    clock.run(dialer.run(until=local(0, 13, 0)))

    def calls_to(number):
        return [wall(clock, c.placed_at) for c in carrier.calls if c.number == number]

    def gaps(times):
        return [b - a for a, b in itertools.pairwise(times)]

    def job(person):
        return CallJob.objects.get(campaign=campaign, person=person)

    assert len(calls_to("13500000400")) == 3
    assert all(g >= timedelta(minutes=10) for g in gaps(calls_to("13500000400")))
    assert job(busy).state == JobState.GIVEN_UP and job(busy).outcome_counts == {"busy": 3}
    assert len(calls_to("13500000401")) == 2
    assert all(g >= timedelta(minutes=30) for g in gaps(calls_to("13500000401")))
    assert job(silent).state == JobState.GIVEN_UP
    assert len(calls_to("13500000402")) == 1  # a wrong number is never retried
    assert job(wrong).state == JobState.GIVEN_UP
    assert CampaignTarget.objects.get(campaign=campaign, person=wrong).status == "unreachable"
    # Hung up mid-way twice (max 2), an hour apart, with the answers given kept.
    hung = calls_to("13812345678")
    assert len(hung) == 2 and gaps(hung)[0] >= timedelta(minutes=60)
    assert job(world.resident_a).state == JobState.GIVEN_UP
    assert job(world.resident_a2).state == JobState.DONE
    # Every attempt recorded exactly once under its call id.
    finals = ContactAttempt.objects.filter(campaign=campaign).exclude(idempotency_key__contains=":")
    assert finals.count() == len(carrier.calls)


@pytest.mark.django_db
def test_line_concurrency_and_calls_per_second_are_never_exceeded(world, healthy_carrier):
    people(world, 10)
    robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=3, cps=0.5)
    dialer = make_dialer(clock, line, healthy_carrier)
    stats = clock.run(dialer.run(once=True))
    assert stats.finished == 12
    assert healthy_carrier.max_active == 3  # reached, never passed
    starts = sorted(c.placed_at for c in healthy_carrier.calls)
    assert all(b - a >= 2.0 - 1e-9 for a, b in itertools.pairwise(starts))
    # Counted the other way too: never more than 3 calls between a start and its end.
    events = sorted(
        [(c.placed_at, 1) for c in healthy_carrier.calls]
        + [(c.ended_at, -1) for c in healthy_carrier.calls],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _at, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 3


@pytest.mark.django_db
def test_do_not_call_numbers_are_never_dialled(world, healthy_carrier):
    campaign = robot_campaign(world)
    do_not_call_services.add_do_not_call(number="139-0000-1111", by=world.lead_a, reason="asked")
    clock = VirtualClock(local(0, 9, 0))
    clock.run(make_dialer(clock, make_line(), healthy_carrier).run(once=True))
    assert {c.number for c in healthy_carrier.calls} == {"13812345678"}
    job = CallJob.objects.get(campaign=campaign, person=world.resident_a2)
    assert job.state == JobState.GIVEN_UP and job.last_outcome == "do_not_call"
    assert job.attempt == 0


@pytest.mark.django_db
def test_a_person_in_two_campaigns_is_never_in_two_calls_at_once(world, healthy_carrier):
    first = robot_campaign(world, name="每日健康监测")
    second = robot_campaign(world, name="每日健康监测二")
    clock = VirtualClock(local(0, 9, 0))
    clock.run(make_dialer(clock, make_line(concurrent=10, cps=10), healthy_carrier).run(once=True))
    assert not healthy_carrier.overlapping_numbers
    for number in ("13812345678", "13900001111"):
        calls = sorted(
            (c for c in healthy_carrier.calls if c.number == number), key=lambda c: c.placed_at
        )
        assert len(calls) == 2
        assert calls[1].placed_at >= calls[0].ended_at
    for campaign in (first, second):
        assert set(CallJob.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
            JobState.DONE
        }


@pytest.mark.django_db
def test_the_vulnerable_are_called_first(world, healthy_carrier):
    people(world, 4, start=500)
    elderly = people(world, 1, start=600, tags=[VulnerableTag.ELDERLY_ALONE])[0]
    robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=1, cps=1)
    clock.run(make_dialer(clock, line, healthy_carrier).run(once=True))
    order = [c.number for c in sorted(healthy_carrier.calls, key=lambda c: c.placed_at)]
    vulnerable = {"13812345678", "13500000600"}  # dialysis, elderly living alone
    assert set(order[:2]) == vulnerable
    assert len(order) == 7 and elderly.phone_tail == "0600"


@pytest.mark.django_db
def test_pause_stops_new_calls_and_resume_restarts_them(world, healthy_carrier):
    people(world, 8)
    campaign = robot_campaign(world)
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=2, cps=1)
    clock.run(make_dialer(clock, line, healthy_carrier).run(until=local(0, 9, 1)))
    before = len(healthy_carrier.calls)
    assert 0 < before < 10
    robot_services.pause_robot(campaign=campaign, by=world.lead_a)
    clock.run(make_dialer(clock, line, healthy_carrier).run(until=local(0, 10, 0)))
    assert len(healthy_carrier.calls) == before
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    clock.run(make_dialer(clock, line, healthy_carrier).run(once=True))
    assert len(healthy_carrier.calls) == 10


@pytest.mark.django_db
def test_crash_and_resume_records_every_attempt_once_and_loses_no_answer(world):
    people(world, 6)
    rules = {"hung_up": {"max": 2, "after_minutes": 5}, "failed": {"max": 2, "after_minutes": 5}}
    campaign = robot_campaign(world, rules=rules)
    carrier = SimulatedCarrier(rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0))
    clock = VirtualClock(local(0, 9, 0))
    line = make_line(concurrent=8, cps=0.2)  # starts 5 s apart: some ring while others talk
    first = make_dialer(clock, line, carrier, owner="dialer-1", housekeeping_seconds=30)

    async def crash_after(seconds: float):
        task = asyncio.create_task(first.run())
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    clock.run(crash_after(37))  # the call started at 35 s still rings
    interrupted = {
        job.pk: (job.state, job.call_id, dict(job.answers))
        for job in CallJob.objects.filter(campaign=campaign, state__in=ACTIVE_STATES)
    }
    states = {state for state, _call, _answers in interrupted.values()}
    assert states == {JobState.DIALLING, JobState.IN_CALL}, states
    # The answers given before the crash are in the journals of the calls cut off.
    journalled = {job_id: answers for job_id, (_s, _c, answers) in interrupted.items() if answers}
    assert journalled, "some answers were given before the crash"
    assert first.stats.answers_saved >= sum(len(a) for a in journalled.values())

    second = make_dialer(clock, line, carrier, owner="dialer-2", housekeeping_seconds=30)
    clock.run(second.run(until=clock.now() + timedelta(hours=1)))

    # The call placed was interrupted; a job claimed but never dialled went back untouched.
    assert second.stats.recovered + second.stats.released == len(interrupted)
    # Nobody was dialled twice under one attempt, and every attempt is recorded once.
    call_ids = [c.call_id for c in carrier.calls]
    assert len(call_ids) == len(set(call_ids))
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    assert sorted(attempts.values_list("idempotency_key", flat=True)) == sorted(call_ids)
    for job_id, (state, call_id, answers) in interrupted.items():
        attempt = ContactAttempt.objects.filter(idempotency_key=call_id).first()
        job = CallJob.objects.get(pk=job_id)
        if attempt is None:
            # Claimed ahead of the pace, never dialled: no attempt, called once, answered.
            assert state == JobState.DIALLING and job.attempt == 1
            assert job.state == JobState.DONE and not answers
            continue
        # Cut by the crash: interrupted (not the resident hanging up), not their retries.
        assert attempt.outcome == "interrupted" and attempt.detail["recovered"] is True
        # Every journalled answer is in the recovered attempt, with its provenance.
        assert set(attempt.answers) == set(answers)
        assert job.attempt == 2 and job.state == JobState.DONE  # retried and answered
        assert job.outcome_counts.get("interrupted") == 1
        assert "hung_up" not in job.outcome_counts and "failed" not in job.outcome_counts
        target = CampaignTarget.objects.get(pk=job.target_id)
        assert set(answers) <= set(target.answers)
    assert not carrier.overlapping_numbers
    assert set(CallJob.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        JobState.DONE
    }
    journals = CallJob.objects.filter(campaign=campaign).values_list("answers", flat=True)
    assert not any(journals)  # emptied as each attempt was recorded


@pytest.mark.django_db
def test_a_dialer_thought_dead_cannot_record_its_attempt_twice(world):
    campaign = robot_campaign(world)
    now = local(0, 9, 0)
    [call, _other] = call_services.claim_jobs(owner="old", line_id=make_line().pk, limit=2, now=now)
    assert call_services.mark_in_call(call=call, owner="old", now=now)
    assert call_services.save_answer(
        call=call, owner="old", key="temperature", value="37.0", at=now
    )
    # The old dialer stops extending its lease; another one recovers the attempt.
    later = now + timedelta(seconds=call_services.LEASE_SECONDS + 1)
    recovery = call_services.recover_expired(now=later)
    # The other job was claimed but never dialled: back to the queue, no attempt.
    assert (recovery.closed, recovery.released) == (1, 1)
    attempt = ContactAttempt.objects.get(idempotency_key=call.call_id)
    assert attempt.outcome == "interrupted" and attempt.answers == {"temperature": 37.0}
    job = CallJob.objects.get(pk=call.job_id)
    state, counts = job.state, job.outcome_counts
    # The old dialer comes back and finishes its call: nothing changes, nothing is doubled.
    assert not call_services.save_answer(call=call, owner="old", key="cough", value=True, at=later)
    result = call_services.finish_call(
        call=call,
        owner="old",
        outcome="answered",
        started_at=now,
        finished_at=later,
        answers={"temperature": "37.0", "cough": True},
    )
    assert result.recorded is False and result.outcome == "interrupted"
    job.refresh_from_db()
    assert (job.state, job.outcome_counts) == (state, counts)
    assert ContactAttempt.objects.filter(campaign=campaign).count() == 1


@pytest.mark.django_db
def test_an_answer_the_questionnaire_refuses_does_not_lose_the_others(world):
    robot_campaign(world)
    now = local(0, 9, 0)
    [call, _other] = call_services.claim_jobs(owner="d", line_id=make_line().pk, limit=2, now=now)
    results = call_services.finish_calls(
        owner="d",
        finishes=[
            call_services.Finish(
                call=call,
                outcome="hung_up",
                started_at=now,
                finished_at=now + timedelta(minutes=1),
                answers={"temperature": "36.8", "no_such_question": "1"},
            ),
            call_services.Finish(call=_other, outcome="busy", started_at=now, finished_at=now),
        ],
    )
    assert [r.outcome for r in results] == ["hung_up", "busy"]
    assert results[0].answers == 1
    attempt = ContactAttempt.objects.get(idempotency_key=call.call_id)
    assert attempt.answers == {"temperature": 36.8}
    assert CallJob.objects.get(pk=_other.job_id).state == JobState.WAITING_RETRY


@pytest.mark.django_db
def test_a_closed_campaign_takes_its_jobs_out_of_the_queue(world, healthy_carrier):
    campaign = robot_campaign(world)
    campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    clock = VirtualClock(local(0, 9, 0))
    clock.run(make_dialer(clock, make_line(), healthy_carrier).run(once=True))
    assert healthy_carrier.calls == []
    assert set(CallJob.objects.filter(campaign=campaign).values_list("last_outcome", flat=1)) == {
        "closed"
    }


def test_pacer_spaces_starts_by_the_rate():
    clock = VirtualClock(local(0, 9, 0))
    pacer = Pacer(4.0)
    starts: list[float] = []

    async def start():
        await pacer.wait(clock)
        starts.append(clock.monotonic())

    async def main():
        await asyncio.gather(*(start() for _ in range(9)))

    clock.run(main())
    assert starts == sorted(starts) and starts[-1] == pytest.approx(2.0)
    assert all(b - a >= 0.25 - 1e-9 for a, b in itertools.pairwise(starts))


def test_next_step_by_outcome():
    rules = default_retry_rules()
    now = local(0, 9, 0)
    assert call_services.next_step(rules, {"answered": 1}, "answered", now) == (JobState.DONE, None)
    assert call_services.next_step(rules, {"refused": 1}, "refused", now)[0] == JobState.DONE
    assert call_services.next_step(rules, {"wrong_number": 1}, "wrong_number", now)[0] == "given_up"
    state, at = call_services.next_step(rules, {"busy": 1}, "busy", now)
    assert state == JobState.WAITING_RETRY and at == now + timedelta(minutes=10)
    assert call_services.next_step(rules, {"busy": 3}, "busy", now)[0] == JobState.GIVEN_UP
    assert (
        call_services.next_step(rules, {"hung_up": 1}, "hung_up", now, complete=True)[0] == "done"
    )
