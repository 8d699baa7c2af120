"""The phone robot's throughput: (a) scheduled dialogues per hour through the simulated carrier,
(b) call setups per second of the direct SIP adapter against SIPp, (c) the same with espeak-ng
live and a new name on every call.

Run from the repository root (needs PostgreSQL at 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/dialer.py [--people 10000] [--concurrent 5000] [--cps 500]
        [--processes 2] [--seed 7] [--database linli_bench_dialer] [--keep-db]
        [--live-calls 600] [--live-cps 30] [--live-concurrent 400] [--live-only]

A smoke check: `--people 500`.

(a) Dialogues through the simulated carrier
1. Drops and recreates --database on PostgreSQL, migrates it with production settings
   (bench/fixtures.py: fresh keys, ./var in a temporary directory), and
   seeds one demo community (linli.demo) with at least --people residents who have a phone.
2. As the community lead: a daily-symptoms campaign over the community with the phone robot
   and door knocks, launched; the robot started with calling hours 00:00–23:59 and the default
   retry rules; one simulated line of --concurrent calls and --cps calls per second.
3. Runs --processes dialer processes (default 2, one per core here; each one thread) on the same
   queue, as a deployment scales: each claims its calls with SKIP LOCKED. Each runs
   linli.voice.dialer.Dialer on that line in virtual time (VirtualClock): ring times of
   3–12 s, prompts played at a spoken pace (a fake TTS at 200 ms per character, so a call lasts
   about as long as a real one), residents pressing keys after 2 s. The mix of outcomes is
   60% answered, 15% no answer, 10% busy, 5% wrong number, 10% failed; those who answer are
   80% healthy, 5% with a fever, 5% hanging up mid-way, 5% silent, 5% pressing before the
   prompt ends. The dialogue is the product's (linli.voice.dialogue.run_dialogue).
   Virtual time means no waiting, not less work: every step writes to PostgreSQL as in
   production (the claim under a lease, the answered mark and each answer journalled on the
   call's job before the dialogue goes on, the attempt with its answers through record_attempt
   with risk and follow-up tasks, the retry), with the production batching (writes of the
   calls in progress share a commit every 50 ms, attempts every 250 ms), the database work
   inline on each process's thread (`inline_db`).
4. Runs until no call is due (`once`): every target's first attempt plus the retries that fall
   due while it runs. Prints dialogues (attempts) per hour of real time, per process and in
   total (first start to last end), next to the vendor's 50,000/hour and the aim of
   500,000/hour, and checks the database (PASS/FAIL): every call placed is one attempt under
   its own call id, no job left in a call, and every answer given is stored once.

(b) Direct SIP call setups per second against SIPp, with every answer recorded
   (`sip_setups_per_second()` below): one SIPp UAS on loopback answers and presses 1 for each
   prompt; the Dialer (real clock) calls --sip-calls residents of the same community on a `sip`
   line of --sip-concurrent calls at --sip-cps, the whole keypad dialogue over RTP with every
   answer saved on PostgreSQL; prints setups per second next to the aim of 14/s (50,000/hour)
   and checks every answer was stored. Needs `sipp` (apt install sip-tester); skipped without.
   Part (b) alone: `--sip-only --people 1000 --sip-calls 1000` (--sip-calls 0 skips it).

(c) A new name on every call, prompts by espeak-ng live (`live_tts_calls()` below): as (b),
   but each of --live-calls residents is first renamed so that no two share a spoken name
   (张*伟 is said 张某伟: surname and last character distinct), the prompt store starts empty,
   and the line runs at --live-cps (default 30/s) with espeak-ng (-s 200) speaking every
   prompt. The identity prompt ("请确认您是张某伟本人…") is therefore new on every call. Prints
   call set-ups per second, the silence before the identity prompt (from the end of the intro
   to the first packet of the identity prompt, as the resident hears it) p50/p95/max, the
   event loop's worst stalls (a 20 ms ticker's lateness), and the calls lost (not answered,
   or answered but not every answer stored). Needs sipp and espeak-ng; skipped without.
   Part (c) alone: `--live-only --people 1000 --live-calls 900` (--live-calls 0 skips it).

Figures are printed, never asserted: the machine is shared and noisy.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import (
    community_lead,
    drop_database,
    fresh_database,
    launch_campaign,
    migrate_production,
    seed_demo_community,
    setup_django,
)

VENDOR_PER_HOUR = 50_000
TARGET_PER_HOUR = 500_000
PHONES_PER_DWELLING = 1.2  # demo residents with a phone per dwelling, with a margin


def start_robot(campaign, n: int, line=None) -> None:
    """Starts the campaign's phone robot, calling round the clock with the default retry rules
    (on `line`, or any line when None), and keeps exactly `n` of its calls queued (the demo
    makes a few more people than asked for)."""
    from linli.voice.models import CallJob, default_retry_rules
    from linli.voice.services import robots as robot_services

    lead = community_lead()
    robot_services.robot_of(campaign)
    robot_services.configure_robot(
        campaign=campaign,
        by=lead,
        calling_start=clock_time(0, 0),
        calling_end=clock_time(23, 59, 59),
        retry_rules=default_retry_rules(),
        line=line,
    )
    robot_services.start_robot(campaign=campaign, by=lead)
    extra = CallJob.objects.filter(campaign=campaign).order_by("-id").values_list("id", flat=True)
    CallJob.objects.filter(pk__in=list(extra[n:])).delete()


def seed(n: int, seed_value: int, concurrent: int, cps: float):
    from django.db import connection

    from linli.screening.models import ChannelCode
    from linli.voice.models import CallJob, Line

    seed_demo_community(n, seed_value, PHONES_PER_DWELLING)
    started = time.perf_counter()
    campaign = launch_campaign(
        questionnaire="每日健康监测",
        campaign="每日健康监测（电话机器人压力测试）",
        channels=[ChannelCode.PHONE, ChannelCode.DOOR_KNOCK],
        from_template="daily_symptoms",
    )
    start_robot(campaign, n)
    jobs = CallJob.objects.filter(campaign=campaign)
    line = Line.objects.create(
        name="模拟线路", carrier="simulated", max_concurrent=concurrent, calls_per_second=cps
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"  campaign {campaign.pk}: {campaign.target_count} targets, {jobs.count()} calls "
        f"queued ({jobs.filter(priority=0).count()} vulnerable first) "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return campaign, line


def dialogues(campaign_id: int, line_id: int, seed_value: int, owner: str = "bench") -> dict:
    """Runs one dialer process's share of the queue in virtual time; returns its figures."""
    from linli.adapters.telephony.simulated import Rates, SimulatedCarrier
    from linli.adapters.tts import FakeTTS
    from linli.screening.models import QuestionnaireVersion
    from linli.voice.dialer import Dialer, VirtualClock, inline_db
    from linli.voice.models import Line
    from linli.voice.script import script_for

    class SpokenPaceTTS(FakeTTS):
        name = "fake/200"
        MS_PER_CHAR = 200

    carrier = SimulatedCarrier(
        rates=Rates(answer=0.60, no_answer=0.15, busy=0.10, wrong_number=0.05),
        persona_mix={"healthy": 80, "fever": 5, "hangs_up": 5, "silent": 5, "impatient": 5},
        seed=seed_value,
        keep_calls=False,
    )
    tts = SpokenPaceTTS()

    def scripts(version_id: int):
        return script_for(QuestionnaireVersion.objects.get(pk=version_id), tts=tts)

    start = datetime.now().astimezone() + timedelta(minutes=1)
    clock = VirtualClock(start)
    dialer = Dialer(
        lines=[Line.objects.get(pk=line_id)],
        carrier_for_line=lambda _line: carrier,
        clock=clock,
        db=inline_db,
        scripts=scripts,
        owner=owner,
        idle_seconds=1.0,
        claim_batch=500,
        # Nothing crashes here; the recovery runs once at the start. Several processes keep
        # their own virtual clocks, which drift apart: a later sweep by one could take the
        # leases of another's live calls for expired.
        housekeeping_seconds=24 * 3600,
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started_at, started = time.time(), time.perf_counter()
    stats = clock.run(dialer.run(once=True))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    virtual = round(clock.monotonic())
    clock.close()
    return {
        "owner": owner,
        "finished": stats.finished,
        "answered": stats.answered,
        "answers_saved": stats.answers_saved,
        "answers_recorded": stats.answers_recorded,
        "placed": carrier.placed,
        "elapsed": elapsed,
        "started_at": started_at,
        "ended_at": started_at + elapsed,
        "cpu": (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime),
        "virtual": virtual,
        "journal_writes": dialer._journal.writes,
        "record_writes": dialer._recorder.writes,
    }


def _pg_counter(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def run_dialers(args, campaign, line) -> list[dict]:
    """Runs --processes dialer processes on the same queue at once (each claims with SKIP
    LOCKED, as deployed dialers would) and returns each one's figures."""
    import json
    import subprocess

    if args.processes == 1:
        return [dialogues(campaign.pk, line.pk, args.seed)]
    command = [sys.executable, str(Path(__file__).resolve()), "--database", args.database]
    workers = [
        subprocess.Popen(
            [*command, "--dialer-worker", str(i), "--seed", str(args.seed + i)],
            stdout=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "LINLI_BENCH_CAMPAIGN": str(campaign.pk),
                "LINLI_BENCH_LINE": str(line.pk),
            },
        )
        for i in range(args.processes)
    ]
    results = []
    for worker in workers:
        out, _err = worker.communicate()
        if worker.returncode != 0:
            raise SystemExit(f"dialer process failed ({worker.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def dialer_worker(index: int, seed_value: int) -> None:
    """A child process of run_dialers: the parent's environment (database, keys) is ours."""
    import json

    setup_django({})
    result = dialogues(
        int(os.environ["LINLI_BENCH_CAMPAIGN"]),
        int(os.environ["LINLI_BENCH_LINE"]),
        seed_value,
        owner=f"bench-{index}",
    )
    from django.db import connections

    connections.close_all()
    print(json.dumps(result))


def part_a(args, campaign, line) -> bool:
    """(a): prints dialogues per hour (per process and in total) next to the vendor's figure
    and the aim, and the database check; returns whether the check passed."""
    print(
        f"(a) dialogues through the simulated carrier: {args.people} people, line of "
        f"{args.concurrent} concurrent calls at {args.cps:g}/s, virtual time, database "
        f"writes on PostgreSQL; {args.processes} dialer process(es) on the same queue, one "
        f"thread each; load average before {os.getloadavg()[0]:.1f}"
    )
    from django.db import connection

    commits = _pg_counter(connection)
    results = run_dialers(args, campaign, line)
    commits = _pg_counter(connection) - commits
    for r in results:
        print(
            f"  process {r['owner']}: {r['finished']} dialogues in {r['elapsed']:.1f} s real "
            f"= {r['finished'] / r['elapsed'] * 3600:,.0f}/h ({r['cpu']:.1f} CPU-s, "
            f"{r['journal_writes']} journal writes, {r['record_writes']} attempt batches "
            f"(commits of one transaction each); virtual time covered "
            f"{timedelta(seconds=r['virtual'])})"
        )
    wall = max(r["ended_at"] for r in results) - min(r["started_at"] for r in results)
    finished = sum(r["finished"] for r in results)
    answered = sum(r["answered"] for r in results)
    saved = sum(r["answers_saved"] for r in results)
    per_hour = finished / wall * 3600
    print(
        f"  total: {finished} dialogues in {wall:.1f} s real (first start to last end); "
        f"answered {answered / wall * 3600:,.0f}/h, answers stored {saved / wall * 3600:,.0f}/h; "
        f"{commits} PostgreSQL commits in all; load average after {os.getloadavg()[0]:.1f}"
    )
    times = per_hour / VENDOR_PER_HOUR
    print(f"  scheduled dialogues per hour:  {per_hour:>10,.0f}")
    print(f"  vendor's figure:               {VENDOR_PER_HOUR:>10,}  (×{times:.1f})")
    print(
        f"  aim:                           {TARGET_PER_HOUR:>10,}  "
        f"({'reached' if per_hour >= TARGET_PER_HOUR else 'NOT reached'})"
    )
    return check_database(
        campaign,
        placed=sum(r["placed"] for r in results),
        finished=finished,
        answers_saved=saved,
        answers_recorded=sum(r["answers_recorded"] for r in results),
    )


def check_database(
    campaign, *, placed: int, finished: int, answers_saved: int, answers_recorded: int
) -> bool:
    from django.db.models import Count

    from linli.screening.models import CampaignTarget, ContactAttempt
    from linli.voice.models import ACTIVE_STATES, CallJob

    attempts = ContactAttempt.objects.filter(campaign=campaign)
    jobs = CallJob.objects.filter(campaign=campaign)
    states = Counter(dict(jobs.values_list("state").annotate(n=Count("id")).order_by()))
    outcomes = Counter(dict(attempts.values_list("outcome").annotate(n=Count("id")).order_by()))
    stored = sum(len(answers) for answers in attempts.values_list("answers", flat=True))
    total = attempts.count()
    call_ids = attempts.values("idempotency_key").distinct().count()
    started = sum(jobs.values_list("attempt", flat=True))  # attempts the jobs started
    left = jobs.filter(state__in=ACTIVE_STATES).count()
    journals = sum(1 for answers in jobs.values_list("answers", flat=True) if answers)
    reached = CampaignTarget.objects.filter(campaign=campaign, reached_at__isnull=False).count()
    complete = CampaignTarget.objects.filter(campaign=campaign, complete=True).count()
    print(
        f"  calls placed {placed}, attempts started {started}; attempts stored {total} under "
        f"{call_ids} call ids; jobs still in a call {left}"
    )
    print(
        f"  answers: {answers_saved} given (journalled as given), {stored} stored in the "
        f"attempts; journals left unrecorded {journals}"
    )
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    print("  jobs: " + ", ".join(f"{k} {v}" for k, v in states.most_common()))
    print(f"  targets reached {reached}, questionnaire complete {complete}")
    ok = (
        total == call_ids == placed == started == finished
        and stored == answers_saved == answers_recorded
        and left == journals == 0
    )
    print(
        ("PASS" if ok else "FAIL")
        + ": every call placed recorded once (one attempt per call id), every answer given "
        "stored once"
    )
    return ok


# Part (b): a short yes/no questionnaire, so every prompt of SIPp's callee (uas_robot_yes.xml:
# presses 1 three times) is answered with a key and each call stores two answers.
SIP_QUESTIONNAIRE = {
    "schema": 1,
    "title": "健康排查",
    "intro": "社区健康排查。",
    "closing": "谢谢，再见。",
    "questions": [
        {"key": "fever", "text": "今天发烧吗？", "kind": "yes_no", "required": True},
        {"key": "travel", "text": "近期外出过吗？", "kind": "yes_no", "required": True},
    ],
}
SIP_SCENARIO = "uas_robot_yes"  # tests/sipp/: answers, confirms with 1, says yes to both
SIP_AIM_PER_SECOND = 14  # 50,000 calls an hour


def _sip_campaign(n: int, line):
    """A running yes/no campaign over the demo community with its robot on the SIP line and
    exactly `n` calls queued; every other robot paused (they would call on any line)."""
    from linli.screening.models import ChannelCode
    from linli.voice.models import CallJob, Robot, RobotStatus
    from linli.voice.services import robots as robot_services

    lead = community_lead()
    for robot in Robot.objects.filter(status=RobotStatus.RUNNING).select_related("campaign"):
        robot_services.pause_robot(campaign=robot.campaign, by=lead)
    campaign = launch_campaign(
        questionnaire="健康排查（SIP）",
        campaign="健康排查（直连SIP压力测试）",
        channels=[ChannelCode.PHONE, ChannelCode.DOOR_KNOCK],
        definition=SIP_QUESTIONNAIRE,
    )
    start_robot(campaign, n, line)
    return campaign, CallJob.objects.filter(campaign=campaign).count()


def _timed(carrier):
    """The line's Carrier, timing each call setup (INVITE sent → answered or failed)."""
    from linli.adapters.telephony.base import Carrier

    class Timed(Carrier):
        name = carrier.name

        def __init__(self):
            self.setups: list[tuple[float, float, str]] = []  # (start, end, outcome)

        async def place_call(self, request):
            start = time.perf_counter()
            setup = await carrier.place_call(request)
            self.setups.append((start, time.perf_counter(), setup.outcome))
            return setup

        async def close(self):
            await carrier.close()

    return Timed()


def sip_setups_per_second(args) -> bool:
    """Part (b): call setups per second sustained by the direct SIP adapter
    (linli.adapters.telephony.sip.carrier.SipCarrier) against SIPp on loopback, with all
    answers recorded; aim ≥ 14/s (50,000/hour).

    One SIPp UAS (tests/sipp/uas_robot_yes.xml, run by the SIP tests' `Sipp` helper) answers
    --sip-calls calls and presses 1 for each prompt. The product's Dialer (real clock, database
    work in its thread) drains a yes/no campaign's queue once on a `sip` line of
    --sip-concurrent calls at --sip-cps, each call the full keypad dialogue over RTP (prompts
    from --sip-tts) with every answer saved as it is given. Prints setups per second (first
    INVITE to last answer), calls answered, and checks the database: one final attempt per
    call, two answers per answered call, every target's answers yes. Returns PASS/FAIL."""
    import asyncio
    import shutil
    import statistics

    if args.sip_calls <= 0:
        print("(b) direct SIP vs SIPp: skipped (--sip-calls 0)")
        return True
    if shutil.which("sipp") is None:
        print("(b) direct SIP vs SIPp: skipped, sipp is not installed (apt install sip-tester)")
        return True

    from linli.adapters.telephony.tests.test_sip_sipp import Sipp  # the SIP tests' SIPp runner
    from linli.adapters.tts import get_tts
    from linli.screening.models import CampaignTarget, ContactAttempt, QuestionnaireVersion
    from linli.voice.dialer import Dialer, default_carrier
    from linli.voice.models import Line
    from linli.voice.script import script_for

    keys = [q["key"] for q in SIP_QUESTIONNAIRE["questions"]]
    line = Line.objects.create(
        name="SIPp 环回",
        carrier="sip",
        settings={"host": "127.0.0.1", "bind": "127.0.0.1:0"},
        max_concurrent=args.sip_concurrent,
        calls_per_second=args.sip_cps,
    )
    campaign, n = _sip_campaign(args.sip_calls, line)
    tts = get_tts(args.sip_tts)

    def scripts(version_id: int):
        return script_for(QuestionnaireVersion.objects.get(pk=version_id), tts=tts)

    logs = Path(tempfile.mkdtemp(prefix="linli-sipp-"))
    sipp = Sipp(SIP_SCENARIO, logs, calls=n, timeout=int(n / args.sip_cps * 4) + 300)
    line.settings = {**line.settings, "port": sipp.port}
    line.save(update_fields=["settings"])
    carriers = []

    def carrier_for_line(line):
        carriers.append(_timed(default_carrier(line)))
        return carriers[-1]

    print(
        f"(b) direct SIP vs SIPp on loopback: {n} calls, line of {args.sip_concurrent} "
        f"concurrent calls at {args.sip_cps:g}/s, prompts by {tts.name}, the keypad dialogue "
        f"over RTP, answers saved on PostgreSQL; load average before {os.getloadavg()[0]:.1f}"
    )

    async def run():
        dialer = Dialer(lines=[line], carrier_for_line=carrier_for_line, scripts=scripts)
        stats = await dialer.run(once=True)
        return stats, await sipp.finish(timeout=120)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    try:
        stats, sipp_exit = asyncio.run(run())
    finally:
        sipp.stop()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)

    setups = carriers[0].setups
    answered = [(s, e) for s, e, outcome in setups if outcome == "answered"]
    window = max(e for _s, e in answered) - min(s for s, _e, _o in setups) if answered else 0.0
    per_second = len(answered) / window if window else 0.0
    latency = sorted(1000 * (e - s) for s, e in answered) or [0.0]
    outcomes = Counter(outcome for _s, _e, outcome in setups)
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    finals = attempts.exclude(idempotency_key__contains=":")
    stored = sum(len(answers) for answers in attempts.values_list("answers", flat=True))
    expected = len(answered) * len(keys)
    all_yes = CampaignTarget.objects.filter(
        campaign=campaign, complete=True, answers=dict.fromkeys(keys, True)
    ).count()
    durations = [d for d in finals.values_list("detail__duration", flat=True) if d is not None]
    print(
        f"  {len(setups)} calls placed in {elapsed:.1f} s ({cpu:.1f} CPU-s in this process); "
        f"outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common())
    )
    print(
        f"  setup (INVITE → 200 OK) p50 {statistics.median(latency):.0f} ms, "
        f"p95 {latency[min(len(latency) - 1, int(len(latency) * 0.95))]:.0f} ms; "
        f"answered calls lasted {statistics.mean(durations) if durations else 0:.1f} s on "
        f"average; SIPp exit {sipp_exit}; load average after {os.getloadavg()[0]:.1f}"
    )
    print(
        f"  call setups per second: {per_second:.1f} ({per_second * 3600:,.0f}/h) — aim "
        f"{SIP_AIM_PER_SECOND}/s ({VENDOR_PER_HOUR:,}/h): "
        f"{'reached' if per_second >= SIP_AIM_PER_SECOND else 'NOT reached'}"
    )
    print(
        f"  answers stored {stored} / expected {expected} ({stats.answers_saved} saved during "
        f"calls); final attempts {finals.count()} / calls {len(setups)}; targets answering "
        f"yes to all {all_yes} / answered {len(answered)}"
    )
    ok = (
        len(answered) == n == len(setups)
        and stored == expected == stats.answers_saved
        and finals.count() == n
        and all_yes == n
        and sipp_exit == 0
    )
    if sipp_exit != 0:
        print(f"  SIPp's errors (calls it dropped): {sipp.errors}")
    print(
        ("PASS" if ok else "FAIL")
        + ": every call answered, every answer stored once, SIPp saw every dialogue"
    )
    return ok


def _distinct_names(campaign) -> int:
    """Renames the people the campaign's robot calls so that no two share a spoken name (the
    masked name keeps the surname and the last character: 3-character names, every pair of
    surname and last character used once). Returns how many were renamed."""
    from linli.demo.factories import SURNAMES
    from linli.registry.models import Person
    from linli.voice.models import CallJob

    given = "".join(
        dict.fromkeys(
            "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉"
            "玲飞鑫波宁浩凯斌俊峰旭晨宇欣怡梓涵轩雨桐远佳琪嘉豪博文诺然梦"
            "晓东志海燕春梅国庆建淑珍"
        )
    )
    surnames = "".join(dict.fromkeys(SURNAMES))
    names = (f"{s}之{g}" for s in surnames for g in given)
    people = list(
        Person.objects.filter(
            pk__in=CallJob.objects.filter(campaign=campaign).values("person_id")
        ).order_by("pk")
    )
    if len(people) > len(surnames) * len(given):
        raise SystemExit(f"only {len(surnames) * len(given)} distinct spoken names")
    for person, name in zip(people, names, strict=False):
        person.name = name
    Person.objects.bulk_update(people, ["name"], batch_size=1000)
    return len(people)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def live_tts_calls(args) -> bool:
    """Part (c): a new name on every call, espeak-ng live, direct SIP to SIPp (see the module
    doc). Returns PASS/FAIL (every call answered and every answer stored)."""
    import asyncio
    import shutil
    import statistics

    if args.live_calls <= 0:
        print("(c) live TTS, a new name per call: skipped (--live-calls 0)")
        return True
    missing = [tool for tool in ("sipp", "espeak-ng") if shutil.which(tool) is None]
    if missing:
        print(f"(c) live TTS, a new name per call: skipped, {' and '.join(missing)} missing")
        return True

    from linli.adapters.telephony.tests.test_sip_sipp import Sipp
    from linli.adapters.tts import get_tts
    from linli.screening.models import CampaignTarget, ContactAttempt, QuestionnaireVersion
    from linli.voice.dialer import Dialer, default_carrier
    from linli.voice.models import Line
    from linli.voice.script import INTRO, script_for

    keys = [q["key"] for q in SIP_QUESTIONNAIRE["questions"]]
    line = Line.objects.create(
        name="SIPp 环回（现场合成）",
        carrier="sip",
        settings={"host": "127.0.0.1", "bind": "127.0.0.1:0"},
        max_concurrent=args.live_concurrent,
        calls_per_second=args.live_cps,
    )
    campaign, n = _sip_campaign(args.live_calls, line)
    renamed = _distinct_names(campaign)
    tts = get_tts("espeak")

    def scripts(version_id: int):
        return script_for(QuestionnaireVersion.objects.get(pk=version_id), tts=tts)

    logs = Path(tempfile.mkdtemp(prefix="linli-sipp-live-"))
    sipp = Sipp(SIP_SCENARIO, logs, calls=n, timeout=int(n / args.live_cps * 4) + 300)
    line.settings = {**line.settings, "port": sipp.port}
    line.save(update_fields=["settings"])
    carriers = []
    plays: dict[str, list[tuple[str, float, float]]] = {}  # call id → (prompt, start, end)

    def carrier_for_line(line):
        timed = _timed(default_carrier(line))
        place = timed.place_call

        async def place_call(request):
            setup = await place(request)
            session = setup.session
            if session is not None:
                heard = plays.setdefault(request.call_id, [])
                play = session.play

                async def timed_play(prompt, *, barge_in=True):
                    start = time.perf_counter()
                    try:
                        return await play(prompt, barge_in=barge_in)
                    finally:
                        heard.append((prompt.name, start, time.perf_counter()))

                session.play = timed_play
            return setup

        timed.place_call = place_call
        carriers.append(timed)
        return timed

    print(
        f"(c) live TTS, a new name on every call: {n} calls ({renamed} people renamed, no two "
        f"with the same spoken name), line of {args.live_concurrent} concurrent calls at "
        f"{args.live_cps:g}/s, prompts by {tts.name} synthesised live (empty prompt store), "
        f"direct SIP to SIPp; load average before {os.getloadavg()[0]:.1f}"
    )
    lags: list[float] = []

    async def ticker():
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.02)
            lags.append(loop.time() - before - 0.02)

    dialers = []

    async def run():
        watch = asyncio.create_task(ticker())
        dialer = Dialer(lines=[line], carrier_for_line=carrier_for_line, scripts=scripts)
        dialers.append(dialer)
        try:
            stats = await dialer.run(once=True)
        finally:
            watch.cancel()
        return stats, await sipp.finish(timeout=120)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        stats, sipp_exit = asyncio.run(run())
    finally:
        sipp.stop()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    cpu_children = (after_children.ru_utime - children.ru_utime) + (
        after_children.ru_stime - children.ru_stime
    )

    setups = carriers[0].setups
    answered = [(s, e) for s, e, outcome in setups if outcome == "answered"]
    window = max(e for _s, e in answered) - min(s for s, _e, _o in setups) if answered else 0.0
    per_second = len(answered) / window if window else 0.0
    outcomes = Counter(outcome for _s, _e, outcome in setups)
    silences, identity_prompts = [], Counter()
    for heard in plays.values():
        intro_end = next((end for name, _start, end in heard if name == INTRO), None)
        after_intro = [(name, start) for name, start, _end in heard if name != INTRO]
        if intro_end is not None and after_intro:
            name, start = after_intro[0]
            identity_prompts[name] += 1
            silences.append(start - intro_end)
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    stored = sum(len(answers) for answers in attempts.values_list("answers", flat=True))
    complete = CampaignTarget.objects.filter(
        campaign=campaign, complete=True, answers=dict.fromkeys(keys, True)
    ).count()
    lost = n - complete
    stalls = sorted(lags, reverse=True)
    print(
        f"  {len(setups)} calls placed in {elapsed:.1f} s ({cpu:.1f} CPU-s in this process, "
        f"{cpu_children:.1f} in the processes it waited for); outcomes: "
        + ", ".join(f"{k} {v}" for k, v in outcomes.most_common())
    )
    print(f"  call set-ups per second: {per_second:.1f} (aim {args.live_cps:g}/s, the line's pace)")
    print(
        "  silence before the identity prompt (end of the intro → its first packet): "
        f"p50 {1000 * statistics.median(silences or [0.0]):.0f} ms, "
        f"p95 {1000 * _percentile(silences, 0.95):.0f} ms, "
        f"max {1000 * max(silences or [0.0]):.0f} ms over {len(silences)} calls (aim p95 < 500 ms)"
        f"; prompt played: " + ", ".join(f"{k} {v}" for k, v in identity_prompts.most_common())
    )
    ahead = getattr(dialers[0], "identities", None)  # absent before prompts were made ahead
    if ahead is not None:
        print(
            f"  identity prompts made ahead by worker processes {ahead.made_ahead}, not ready "
            f"in time {ahead.not_ready} (the generic prompt said), failed {ahead.failed}"
        )
    print(
        f"  event loop stalls (20 ms ticker late by): max {1000 * (stalls[0] if stalls else 0):.0f}"
        f" ms, p99 {1000 * _percentile(lags, 0.99):.0f} ms, "
        f"{sum(1 for lag in lags if lag > 0.1)} over 100 ms"
    )
    print(
        f"  calls lost: {lost} of {n} (not answered, or an answer not stored); answers stored "
        f"{stored} / expected {n * len(keys)} ({stats.answers_saved} saved during calls); "
        f"SIPp exit {sipp_exit}; load average after {os.getloadavg()[0]:.1f}"
    )
    ok = lost == 0 and stored == n * len(keys) and sipp_exit == 0
    if sipp_exit != 0:
        print(f"  SIPp's errors (calls it dropped): {sipp.errors}")
    print(("PASS" if ok else "FAIL") + ": every call answered, every answer stored once")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10000, help="calls to place (targets)")
    parser.add_argument("--concurrent", type=int, default=5000, help="line's concurrent calls")
    parser.add_argument("--cps", type=float, default=500, help="line's calls per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="linli_bench_dialer", help="dropped and recreated")
    parser.add_argument("--keep-db", action="store_true", help="leave the database afterwards")
    parser.add_argument(
        "--processes", type=int, default=2, help="(a) dialer processes on the same queue"
    )
    parser.add_argument("--dialer-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sip-calls", type=int, default=1000, help="(b) calls to SIPp; 0: skip")
    parser.add_argument("--sip-concurrent", type=int, default=400, help="(b) SIP line's calls")
    parser.add_argument("--sip-cps", type=float, default=30, help="(b) SIP line's calls/s")
    parser.add_argument(
        "--sip-tts", default="fake", help="(b) prompts: fake (40 ms a char), espeak"
    )
    parser.add_argument("--sip-only", action="store_true", help="run part (b) alone")
    parser.add_argument(
        "--live-calls", type=int, default=600, help="(c) calls with espeak live; 0: skip"
    )
    parser.add_argument("--live-concurrent", type=int, default=400, help="(c) line's calls")
    parser.add_argument("--live-cps", type=float, default=30, help="(c) line's calls/s")
    parser.add_argument("--live-only", action="store_true", help="run part (c) alone")
    args = parser.parse_args()
    if args.dialer_worker is not None:
        dialer_worker(args.dialer_worker, args.seed)
        return
    if args.processes < 1:
        parser.error("need --processes ≥ 1")
    if args.people < 1 or args.concurrent < 1 or args.cps <= 0:
        parser.error("need --people ≥ 1, --concurrent ≥ 1, --cps > 0")
    if args.sip_calls > args.people or args.sip_concurrent < 1 or args.sip_cps <= 0:
        parser.error("need --sip-calls ≤ --people, --sip-concurrent ≥ 1, --sip-cps > 0")
    if args.live_calls > args.people or args.live_concurrent < 1 or args.live_cps <= 0:
        parser.error("need --live-calls ≤ --people, --live-concurrent ≥ 1, --live-cps > 0")

    var_dir = Path(tempfile.mkdtemp(prefix="linli-dialer-"))
    try:
        print(f"preparing database {args.database} (production settings, ./var in {var_dir})")
        started = time.perf_counter()
        migrate_production(fresh_database(args.database), var_dir, started)
        campaign, line = seed(args.people, args.seed, args.concurrent, args.cps)
        if args.sip_only:
            if not sip_setups_per_second(args):
                raise SystemExit(1)
            return
        if args.live_only:
            if not live_tts_calls(args):
                raise SystemExit(1)
            return

        ok = part_a(args, campaign, line)
        ok = sip_setups_per_second(args) and ok
        ok = live_tts_calls(args) and ok
        if not ok:
            raise SystemExit(1)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(args.database)


if __name__ == "__main__":
    main()
