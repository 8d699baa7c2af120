"""Identity prompts made ahead (linli.voice.identities): asked for when the dialer claims a call,
taken by the dialogue without blocking, and the generic prompt when one is not ready."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from linli.adapters.tts.ahead import SynthesisPool
from linli.adapters.tts.tests.engines import BlockingTTS
from linli.screening.questionnaires.templates import daily_symptoms_template
from linli.voice import script as scripts
from linli.voice.dialer import VirtualClock
from linli.voice.dialogue import run_dialogue
from linli.voice.identities import IdentityPrompts
from linli.voice.script import GENERIC_IDENTITY, IDENTITY, identity_store, script_for
from linli.voice.tests.test_dialer import local, make_dialer, make_line, robot_campaign
from linli.voice.tests.test_dialogue import HEALTHY_DAILY, TODAY, ScriptedCall, Version


class HeldTTS(BlockingTTS):
    """Synthesises only once `gate` is set: a prompt still being made when it is needed."""

    gate = threading.Event()

    def synthesise(self, text: str) -> bytes:
        assert self.gate.wait(30)
        return super().synthesise(text)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    scripts.clear_cache()
    yield
    scripts.clear_cache()


def thread_pool() -> SynthesisPool:
    # Threads stand in for the worker processes here (test_ahead.py runs the real ones).
    return SynthesisPool(executor=ThreadPoolExecutor(max_workers=2))


def test_a_prompt_asked_for_ahead_is_ready_when_the_dialogue_needs_it():
    script = script_for(Version(201, daily_symptoms_template()), tts=BlockingTTS())
    identities = IdentityPrompts(pool=thread_pool())

    async def scenario():
        identities.prefetch(script, "张*伟")
        identities.prefetch(script, "张*伟")  # asked twice (a retry claimed): made once
        for _ in range(1000):
            if identities.made_ahead:
                break
            await asyncio.sleep(0.01)
        return await identities.get(script, "张*伟")

    prompt = asyncio.run(scenario())
    identities.close()
    assert prompt is not None and prompt.name == IDENTITY
    assert prompt.text == "请确认您是张某伟本人，是请按1，不是请按2。"
    assert identities.made_ahead == 1 and identities.not_ready == 0
    assert script.tts.calls.count(prompt.text) == 1
    stored = list(identity_store().iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == prompt.audio
    assert "张" not in stored[0].name


def test_a_prompt_not_ready_in_time_gives_way_to_the_generic_one():
    HeldTTS.gate.clear()
    held = script_for(Version(202, daily_symptoms_template()), tts=BlockingTTS())
    # From now on the engine (same name) is held: the fixed prompts were made, the identity
    # prompt is still being made when the intro ends.
    object.__setattr__(held, "tts", HeldTTS())
    identities = IdentityPrompts(pool=thread_pool(), wait=0.01)
    presses = [(GENERIC_IDENTITY, "1"), *HEALTHY_DAILY[1:]]
    session = ScriptedCall(presses)

    async def scenario():
        result = await run_dialogue(
            session, held, masked_name="张*伟", today=TODAY, identity=identities.get
        )
        HeldTTS.gate.set()  # made later, it is there for the next call to this person
        for _ in range(1000):
            if identities.made_ahead:
                break
            await asyncio.sleep(0.01)
        return result, await identities.get(held, "张*伟")

    try:
        result, later = asyncio.run(scenario())
    finally:
        HeldTTS.gate.set()
        identities.close()
    assert result.outcome == "answered" and not result.by_proxy
    assert session.played[:2] == ["intro", GENERIC_IDENTITY]
    assert held.prompts[GENERIC_IDENTITY].text == (
        "请问您是这个号码登记的居民本人吗？是请按1，不是请按2。"
    )
    assert {"event": "identity_not_ready"} in [
        {k: v for k, v in e.items() if k == "event"} for e in result.transcript
    ]
    assert identities.not_ready == 1
    assert later is not None and later.name == IDENTITY and "张某伟" in later.text


class Recording(IdentityPrompts):
    def __init__(self):
        super().__init__(pool=thread_pool())
        self.events: list[tuple[str, str]] = []

    def prefetch(self, script, masked_name):
        self.events.append(("prefetch", masked_name))
        super().prefetch(script, masked_name)

    async def get(self, script, masked_name):
        self.events.append(("get", masked_name))
        return await super().get(script, masked_name)


@pytest.mark.django_db
def test_the_dialer_asks_for_each_identity_prompt_when_it_claims_the_call(world):
    from linli.adapters.telephony.simulated import Rates, SimulatedCarrier

    robot_campaign(world)
    carrier = SimulatedCarrier(rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0))
    identities = Recording()
    clock = VirtualClock(local(0, 9, 0))
    dialer = make_dialer(clock, make_line(), carrier, identities=identities)
    stats = clock.run(dialer.run(once=True))
    assert stats.finished == 2
    names = {"张*丰", "李*英"}  # 张三丰 and 李秀英
    assert {name for _what, name in identities.events} == names
    for name in names:
        asked = identities.events.index(("prefetch", name))
        assert asked < identities.events.index(("get", name))


@pytest.mark.django_db
def test_the_calls_due_next_are_read_in_claim_order_without_claiming_them(world):
    from linli.voice.models import CallJob, JobState
    from linli.voice.services import calls as call_services

    campaign = robot_campaign(world)
    line = make_line()
    now = local(0, 9, 0)
    upcoming = call_services.upcoming_calls(line_id=line.pk, limit=10, now=now)
    assert not CallJob.objects.filter(campaign=campaign).exclude(state=JobState.QUEUED).exists()
    claimed = call_services.claim_jobs(owner="probe", line_id=line.pk, limit=10, now=now)
    assert upcoming == [(call.version_id, call.masked_name) for call in claimed]
    assert {name for _version, name in upcoming} == {"张*丰", "李*英"}
    assert call_services.upcoming_calls(line_id=line.pk, limit=10, now=now) == []


@pytest.mark.django_db
def test_in_virtual_time_the_dialer_waits_for_each_named_prompt(world):
    # A bounded wait passes at once in virtual time: the simulation waits for the workers.
    from linli.adapters.telephony.simulated import Rates, SimulatedCarrier
    from linli.screening.models import ContactAttempt, QuestionnaireVersion
    from linli.voice.dialer import Dialer, inline_db

    campaign = robot_campaign(world)
    carrier = SimulatedCarrier(rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0))
    clock = VirtualClock(local(0, 9, 0))
    dialer = Dialer(
        lines=[make_line()],
        carrier_for_line=lambda _line: carrier,
        clock=clock,
        db=inline_db,
        scripts=lambda pk: script_for(QuestionnaireVersion.objects.get(pk=pk), tts=BlockingTTS()),
        idle_seconds=60.0,
        housekeeping_seconds=300.0,
    )
    try:
        stats = clock.run(dialer.run(once=True))
    finally:
        clock.close()
    assert stats.finished == 2
    assert dialer.identities.made_ahead == 2 and dialer.identities.not_ready == 0
    for attempt in ContactAttempt.objects.filter(campaign=campaign):
        said = [e["prompt"] for e in attempt.detail["transcript"] if "prompt" in e]
        assert said[:2] == ["intro", IDENTITY]
