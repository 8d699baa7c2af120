"""The phone robot end to end over real SIP: a running screening campaign with the phone
channel, its robot started, a `sip` line, and the Dialer (real clock, database work in its
thread as in production) draining the queue once, every call placed by SipCarrier to SIPp on
loopback and the keypad dialogue run over RTP.

Each resident's number reaches its own SIPp UAS (one sipp per callee, each on its own port; a
test-only carrier routes the line's calls by number):

- yes:   answers, confirms with 1, answers 1 and 1 (tests/sipp/uas_robot_yes.xml: the pcap SIPp
         ships, then two more presses of 1 each with its own RTP timestamp)
- no:    answers, confirms with 1, answers 2 and 2 (uas_robot_no.xml)
- silent: answers and never presses (uas_silent.xml): the dialogue gives up on the identity
         check after its tries, a failed attempt
- busy:  486 (uas_busy.xml)
- ringing: rings and never answers (uas_no_answer.xml): our CANCEL at the ring timeout, 487
- wrong: 404 (uas_not_found.xml)

The stored attempts, answers, target statuses and the retries the robot's rules schedule must
be exactly right, and every SIPp must have seen the whole dialogue it expects (exit status 0).

Skipped when `sipp` is not installed, unless LINLI_REQUIRE_SIPP=1 (CI).
"""

import asyncio
import os
from datetime import time, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from linli.adapters.telephony.base import CallRequest, CallSetup, Carrier
from linli.adapters.telephony.sip import SipCarrier, SipConfig
from linli.adapters.telephony.tests.test_sip_sipp import SIPP, Sipp
from linli.screening.models import CampaignTarget, ContactAttempt
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import add_person
from linli.voice.dialer import Dialer
from linli.voice.dialogue import MAX_TRIES
from linli.voice.models import CallJob, JobState, Line, default_retry_rules
from linli.voice.services import calls as call_services
from linli.voice.services import robots as robot_services

if SIPP is None and os.environ.get("LINLI_REQUIRE_SIPP") != "1":
    pytestmark = pytest.mark.skip(reason="sipp (Debian sip-tester) is not installed")

# A short questionnaire, so the prompts (FakeTTS in tests: 40 ms a character) are short.
DEFINITION = {
    "schema": 1,
    "title": "健康排查",
    "intro": "社区健康排查。",
    "closing": "谢谢，再见。",
    "questions": [
        {"key": "fever", "text": "今天发烧吗？", "kind": "yes_no", "required": True},
        {"key": "travel", "text": "近期外出过吗？", "kind": "yes_no", "required": True},
    ],
}
KEYS = [q["key"] for q in DEFINITION["questions"]]

CALLEES = {  # who → (SIPp scenario, phone number)
    "yes": ("uas_robot_yes", "13812345678"),  # world.resident_a, 张三丰
    "no": ("uas_robot_no", "13900001111"),  # world.resident_a2, 李秀英
    "silent": ("uas_silent", "13500000701"),
    "busy": ("uas_busy", "13500000702"),
    "ringing": ("uas_no_answer", "13500000703"),
    "wrong": ("uas_not_found", "13500000704"),
}
RING_TIMEOUT = 2.0  # seconds before the CANCEL to the callee who never answers
# The silent callee's call is the longest: MAX_TRIES × (identity prompt + 8 s wait) + notices.
SIPP_TIMEOUT = 120


class RoutingCarrier(Carrier):
    """Test only: the line's calls go to the SipCarrier of the SIPp playing that number."""

    name = "sip"

    def __init__(self, carriers: dict[str, SipCarrier]):
        self.carriers = carriers
        self.requests: list[CallRequest] = []

    async def place_call(self, request: CallRequest) -> CallSetup:
        self.requests.append(request)
        return await self.carriers[request.number].place_call(request)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.carriers.values()))


def robot_campaign(world, line: Line):
    """A running campaign over community A with the phone robot calling on `line` at any hour
    (the test may run at night) with the default retry rules."""
    questionnaire = questionnaire_services.create_questionnaire(
        name="健康排查", area=world.a.community, by=world.lead_a, definition=DEFINITION
    )
    campaign = campaign_services.create_campaign(
        name="健康排查（电话机器人）",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["phone", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    robot_services.robot_of(campaign)
    robot = robot_services.configure_robot(
        campaign=campaign,
        by=world.lead_a,
        calling_start=time(0, 0),
        calling_end=time(23, 59, 59),
        retry_rules=default_retry_rules(),
        line=line,
    )
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    return campaign, robot


def dial_everyone(line: Line, sipps: dict[str, Sipp], numbers: dict[str, str] | None = None):
    """Runs the Dialer on the line until no call is due (`dialer --once`), then waits for
    every SIPp to finish. Returns the dialer's stats, SIPp exit statuses and the requests.
    `numbers`: who → phone number (CALLEES' by default)."""
    routed: list[RoutingCarrier] = []
    numbers = numbers or {who: number for who, (_scenario, number) in CALLEES.items()}

    def carrier_for_line(line: Line) -> Carrier:
        carriers = {
            numbers[who]: SipCarrier(
                SipConfig.from_settings(
                    {**line.settings, "port": sipp.port}, max_calls=line.max_concurrent
                )
            )
            for who, sipp in sipps.items()
        }
        routed.append(RoutingCarrier(carriers))
        return routed[-1]

    async def run():
        dialer = Dialer(lines=[line], carrier_for_line=carrier_for_line, ring_timeout=RING_TIMEOUT)
        try:
            stats = await asyncio.wait_for(dialer.run(once=True), SIPP_TIMEOUT)
            statuses = {who: await sipp.finish(timeout=SIPP_TIMEOUT) for who, sipp in sipps.items()}
        finally:
            # The dialer's database work ran in asgiref's thread: close its connection so the
            # test database can be flushed and dropped.
            await sync_to_async(connections.close_all, thread_sensitive=True)()
        return stats, statuses

    stats, statuses = asyncio.run(run())
    return stats, statuses, routed[0].requests


def rows(target) -> list[tuple]:
    """The target's attempts as (key suffix, channel, outcome, answers), in key order."""
    job = target.call_job
    return sorted(
        (
            attempt.idempotency_key.removeprefix(job.call_id),
            attempt.channel,
            attempt.outcome,
            attempt.answers,
        )
        for attempt in ContactAttempt.objects.filter(target=target)
    )


@pytest.mark.django_db(transaction=True)
def test_robot_calls_six_callees_over_sip_and_stores_exactly_what_they_said(world, tmp_path):
    people = {"yes": world.resident_a, "no": world.resident_a2}
    for i, who in enumerate(("silent", "busy", "ringing", "wrong")):
        people[who] = add_person(world.a.dwellings[1], f"居民{who}", 700 + i, phone=CALLEES[who][1])
    line = Line.objects.create(
        name="SIP 测试线路",
        carrier="sip",
        settings={"host": "127.0.0.1", "bind": "127.0.0.1:0", "caller_id": "96110"},
        max_concurrent=6,
        calls_per_second=10,
    )
    campaign, robot = robot_campaign(world, line)
    targets = {
        who: CampaignTarget.objects.get(campaign=campaign, person=person)
        for who, person in people.items()
    }
    assert CampaignTarget.objects.filter(campaign=campaign).count() == len(CALLEES)

    sipps = {
        who: Sipp(scenario, tmp_path, timeout=SIPP_TIMEOUT)
        for who, (scenario, _number) in CALLEES.items()
    }
    try:
        stats, statuses, requests = dial_everyone(line, sipps)
    finally:
        for sipp in sipps.values():
            sipp.stop()
    for who, status in statuses.items():
        assert status == 0, f"SIPp {who}: exit {status}: {sipps[who].diagnostics()}"

    # One call to each number, once.
    assert sorted(r.number for r in requests) == sorted(n for _s, n in CALLEES.values())
    assert stats.placed == stats.finished == len(CALLEES)
    assert stats.answered == 3  # yes, no, silent
    assert stats.answers_saved == 2 * len(KEYS)

    for target in targets.values():
        target.refresh_from_db()
    rules = robot.retry_rules

    # Said yes to everything: one attempt under the call id carrying every answer; reached.
    assert rows(targets["yes"]) == [("", "phone", "answered", dict.fromkeys(KEYS, True))]
    assert targets["yes"].status == "reached" and targets["yes"].complete
    assert targets["yes"].answers == dict.fromkeys(KEYS, True)
    assert targets["yes"].answered_via == "phone" and not targets["yes"].answered_by_proxy

    # Confirmed with 1, then said no: False stored, not taken for "no answer".
    assert rows(targets["no"]) == [("", "phone", "answered", dict.fromkeys(KEYS, False))]
    assert targets["no"].status == "reached" and targets["no"].complete
    assert targets["no"].answers == dict.fromkeys(KEYS, False)

    # Silent: the identity check got no key after every try; nothing usable, a failed attempt.
    assert rows(targets["silent"]) == [("", "phone", "failed", {})]
    assert targets["silent"].status == "no_answer" and targets["silent"].answers == {}

    assert rows(targets["busy"]) == [("", "phone", "busy", {})]
    assert rows(targets["ringing"]) == [("", "phone", "no_answer", {})]
    assert rows(targets["wrong"]) == [("", "phone", "wrong_number", {})]
    assert targets["busy"].status == targets["ringing"].status == "no_answer"
    assert targets["wrong"].status == "unreachable"
    assert not any(targets[who].answers for who in ("busy", "ringing", "wrong"))

    finals = {
        who: ContactAttempt.objects.get(idempotency_key=target.call_job.call_id)
        for who, target in targets.items()
    }
    sip_status = {who: attempt.detail["sip_status"] for who, attempt in finals.items()}
    assert sip_status == {
        "yes": 200,
        "no": 200,
        "silent": 200,
        "busy": 486,
        "ringing": 487,
        "wrong": 404,
    }
    for who, attempt in finals.items():
        assert CALLEES[who][1] not in str(attempt.detail)  # the number is never stored

    def keys_heard(who: str) -> list[str]:
        return [e["digits"] for e in finals[who].detail["transcript"] if "digits" in e]

    assert keys_heard("yes") == ["1", "1", "1"]
    assert keys_heard("no") == ["1", "2", "2"]
    silent = finals["silent"].detail["transcript"]
    assert [e["event"] for e in silent if "event" in e] == ["no_input"] * MAX_TRIES + ["give_up"]
    assert not keys_heard("silent")

    # Retries by the robot's rules: answered ends the job, busy / no answer / failed wait their
    # interval, a wrong number is given up at once.
    jobs = {who: CallJob.objects.get(pk=target.call_job.pk) for who, target in targets.items()}
    for who in ("yes", "no"):
        assert (jobs[who].state, jobs[who].attempt) == (JobState.DONE, 1)
    retried = {"silent": "failed", "busy": "busy", "ringing": "no_answer"}
    for who, outcome in retried.items():
        job = jobs[who]
        assert (job.state, job.attempt, job.last_outcome) == (
            JobState.WAITING_RETRY,
            1,
            outcome,
        )
        assert job.outcome_counts == {outcome: 1}
        assert job.next_at - job.finished_at == timedelta(minutes=rules[outcome]["after_minutes"])
    assert (jobs["wrong"].state, jobs["wrong"].last_outcome) == (JobState.GIVEN_UP, "wrong_number")

    # Once their intervals have passed exactly these three are dialled again, nobody else.
    later = max(jobs[who].next_at for who in retried)
    before = min(jobs[who].next_at for who in retried) - timedelta(seconds=1)
    assert call_services.claim_jobs(owner="probe", line_id=line.pk, limit=10, now=before) == []
    again = call_services.claim_jobs(owner="probe", line_id=line.pk, limit=10, now=later)
    assert {call.person_id for call in again} == {people[who].pk for who in retried}
    assert all(call.attempt == 2 for call in again)


@pytest.mark.django_db(transaction=True)
def test_keys_pressed_before_the_answer_do_not_answer_the_identity_question(world, tmp_path):
    # tests/sipp/uas_robot_early_keys.xml: 1 pressed during early media (183), 1 held across
    # the 200 OK, then "not me" (2) and "nobody answers for them" (2). Taking either early 1 as
    # "I am the person" would store the two 2s as the resident's own answers (no fever, no
    # travel); the call is refused, with nothing stored.
    line = Line.objects.create(
        name="SIP 测试线路",
        carrier="sip",
        settings={"host": "127.0.0.1", "bind": "127.0.0.1:0"},
        max_concurrent=2,
        calls_per_second=10,
    )
    campaign, _robot = robot_campaign(world, line)
    CallJob.objects.filter(campaign=campaign).exclude(person=world.resident_a).delete()
    target = CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)
    sipps = {"early": Sipp("uas_robot_early_keys", tmp_path, timeout=SIPP_TIMEOUT)}
    try:
        stats, statuses, requests = dial_everyone(line, sipps, {"early": CALLEES["yes"][1]})
    finally:
        sipps["early"].stop()
    assert statuses["early"] == 0, sipps["early"].diagnostics()
    assert len(requests) == 1 and stats.answered == 1
    assert stats.answers_saved == 0

    target.refresh_from_db()
    assert rows(target) == [("", "phone", "refused", {})]
    assert target.answers == {} and not target.complete
    attempt = ContactAttempt.objects.get(idempotency_key=target.call_job.call_id)
    assert attempt.detail["early_media"] is True
    heard = [e["digits"] for e in attempt.detail["transcript"] if "digits" in e]
    assert heard == ["2", "2"]
