"""The phone dialogue over a scripted call: identity, branching, retries, outcomes."""

import asyncio
from dataclasses import dataclass
from datetime import date

import pytest

from linli.adapters.telephony.base import CallSession, HungUp, Prompt
from linli.adapters.tts import FakeTTS
from linli.screening.questionnaires.answers import validate_answers
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.routing import is_complete
from linli.screening.questionnaires.templates import arrivals_template, daily_symptoms_template
from linli.voice import script as scripts
from linli.voice.dialogue import run_dialogue
from linli.voice.script import script_for

TODAY = date(2022, 1, 20)


class ScriptedCall(CallSession):
    """A resident as a list of (prompt name, keys): the keys are pressed while that prompt
    plays, the next time it plays. Entries are consumed in order, so a repeated prompt gets
    the next entry naming it; a prompt with no entry waiting hears silence. `hang_up_after`
    ends the call when that many prompts have been played."""

    def __init__(self, presses: list[tuple[str, str]], *, hang_up_after: int | None = None):
        self.presses = list(presses)
        self.hang_up_after = hang_up_after
        self.played: list[str] = []
        self.buffer = ""
        self.barge_ins: dict[str, bool] = {}
        self.ended = False

    def _check(self) -> None:
        if self.ended:
            raise HungUp

    async def play(self, prompt: Prompt, *, barge_in: bool = True) -> str:
        self._check()
        if self.hang_up_after is not None and len(self.played) >= self.hang_up_after:
            self.ended = True
            raise HungUp
        self.played.append(prompt.name)
        self.barge_ins[prompt.name] = barge_in
        if self.presses and self.presses[0][0] == prompt.name:
            self.buffer += self.presses.pop(0)[1]
        if not self.buffer:
            return ""
        if barge_in:  # the first key stops the prompt; the rest wait for collect()
            first, self.buffer = self.buffer[0], self.buffer[1:]
            return first
        keys, self.buffer = self.buffer, ""
        return keys

    async def collect(self, *, max_digits, first_timeout, inter_digit_timeout=3.0, terminators="#"):
        self._check()
        out = ""
        while self.buffer and len(out) < max_digits:
            key, self.buffer = self.buffer[0], self.buffer[1:]
            if key in terminators:
                break
            out += key
        return out

    async def hangup(self) -> None:
        self.ended = True

    @property
    def hung_up(self) -> bool:
        return self.ended


@dataclass
class Version:
    pk: int
    definition: dict


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    scripts.clear_cache()
    yield
    scripts.clear_cache()


@pytest.fixture
def daily():
    return script_for(Version(101, daily_symptoms_template()), tts=FakeTTS())


@pytest.fixture
def arrivals():
    return script_for(Version(102, arrivals_template()), tts=FakeTTS())


def call(script, presses, *, hang_up_after=None, **kw):
    session = ScriptedCall(presses, hang_up_after=hang_up_after)
    saved: list[tuple[str, object]] = []

    async def on_answer(key, value):
        saved.append((key, value))

    result = asyncio.run(
        run_dialogue(session, script, masked_name="张*伟", on_answer=on_answer, today=TODAY, **kw)
    )
    return result, session, saved


HEALTHY_DAILY = [
    ("identity", "1"),
    ("q:temperature", "365#"),
    ("q:symptoms", "2"),
    ("q:contact_confirmed", "2"),
    ("q:tested_today", "1"),
    ("q:medication_needs", "2"),
    ("q:needs_help", "2"),
]


def test_a_healthy_resident_answers_the_daily_questionnaire(daily):
    result, session, _ = call(daily, HEALTHY_DAILY)
    assert result.outcome == "answered"
    assert result.reason == "completed"
    assert not result.by_proxy and not result.wants_person
    assert result.answers == {
        "temperature": 36.5,
        "symptoms": ["none"],
        "contact_confirmed": False,
        "tested_today": "done",
        "medication_needs": False,
        "needs_help": False,
    }
    # Branching: medication_needs = no jumps over the free-text detail to needs_help, and
    # needs_help = no ends the questionnaire.
    assert session.played == [
        "intro",
        "identity",
        "q:temperature",
        "q:symptoms",
        "q:contact_confirmed",
        "q:tested_today",
        "q:medication_needs",
        "q:needs_help",
        "closing",
    ]
    assert session.barge_ins["intro"] is False and session.barge_ins["q:temperature"] is True
    assert session.hung_up


def test_a_fever_by_phone_is_validated_and_high_risk(daily):
    presses = [
        ("identity", "1"),
        ("q:temperature", "382#"),
        ("q:symptoms", "1"),
        ("q:symptoms:fever", "1"),
        ("q:symptoms:cough", "1"),
        ("q:symptoms:fatigue", "2"),
        ("q:symptoms:sore_throat", "2"),
        ("q:symptoms:smell_taste_loss", "2"),
        ("q:symptoms:diarrhoea", "2"),
        ("q:contact_confirmed", "2"),
        ("q:tested_today", "2"),
        ("q:medication_needs", "2"),
        ("q:needs_help", "2"),
    ]
    result, _, saved = call(daily, presses)
    assert result.outcome == "answered"
    assert result.answers["temperature"] == 38.2
    assert result.answers["symptoms"] == ["fever", "cough"]
    # The answers are what the H5 page would store: they validate as they are...
    defn = daily.definition
    values, errors = validate_answers(defn, result.answers, today=TODAY)
    assert errors == {} and values == result.answers
    assert is_complete(defn, values, today=TODAY)
    # ...and reach the fever rule.
    risk = evaluate_risk(defn, values, today=TODAY)
    assert risk.level == "high"
    assert "door_visit" in risk.follow_ups
    assert saved == list(result.answers.items())


def test_yes_takes_the_branch_path(arrivals):
    presses = [
        ("identity", "1"),
        ("q:arrived_recently", "1"),
        ("q:arrival_date", "20220110#"),
        ("q:transport", "2"),
        ("q:risk_area_visit", "2"),
        ("q:symptoms", "2"),
        ("q:temperature", "*#"),
        ("q:health_code", "1"),
        ("q:vaccination", "3"),
        ("q:needs_help", "1"),
    ]
    result, session, _ = call(arrivals, presses)
    questions = [name for name in session.played if name.startswith("q:")]
    # Yes → the travel questions (came_from is free text: left for the door knock).
    assert questions[:4] == [
        "q:arrived_recently",
        "q:arrival_date",
        "q:transport",
        "q:risk_area_visit",
    ]
    assert result.answers["arrival_date"] == "2022-01-10"
    assert result.answers["transport"] == "train"
    assert result.answers["temperature"] is None  # skipped with *, optional
    assert result.answers["needs_help"] is True
    # needs_help = yes leads on to help_detail, which is free text: the call ends there.
    assert "came_from" not in result.answers and "help_detail" not in result.answers
    assert result.outcome == "answered"


def test_no_skips_the_travel_questions(arrivals):
    presses = [
        ("identity", "1"),
        ("q:arrived_recently", "2"),
        ("q:symptoms", "2"),
        ("q:temperature", "366#"),
        ("q:health_code", "1"),
        ("q:vaccination", "4"),
        ("q:needs_help", "2"),
    ]
    result, session, _ = call(arrivals, presses)
    assert "q:arrival_date" not in session.played
    assert result.outcome == "answered"
    assert result.answers["arrived_recently"] is False


def test_nine_repeats_the_prompt(daily):
    presses = [("identity", "9"), ("identity", "1"), ("q:temperature", "9"), *HEALTHY_DAILY[1:]]
    result, session, _ = call(daily, presses)
    assert session.played[:5] == ["intro", "identity", "identity", "q:temperature", "q:temperature"]
    assert result.outcome == "answered"
    assert [e["event"] for e in result.transcript if "event" in e].count("repeat") == 2


def test_invalid_then_valid(daily):
    presses = [
        ("identity", "1"),
        ("q:temperature", "505#"),  # 50.5 ℃: out of the question's range
        ("q:temperature", "372#"),
        ("q:symptoms", "7"),  # not a key of this prompt
        ("q:symptoms", "2"),
        *HEALTHY_DAILY[3:],
    ]
    result, session, _ = call(daily, presses)
    assert result.outcome == "answered"
    assert result.answers["temperature"] == 37.2
    assert session.played[2:7] == [
        "q:temperature",
        "invalid",
        "q:temperature",
        "q:symptoms",
        "invalid",
    ]
    events = [e["event"] for e in result.transcript if "event" in e]
    assert events.count("invalid") == 2


def test_whole_degrees_and_a_star_for_the_point(daily):
    presses = [("identity", "1"), ("q:temperature", "37#"), *HEALTHY_DAILY[2:]]
    assert call(daily, presses)[0].answers["temperature"] == 37
    scripts.clear_cache()
    presses = [("identity", "1"), ("q:temperature", "37*8#"), *HEALTHY_DAILY[2:]]
    assert call(daily, presses)[0].answers["temperature"] == 37.8


def test_silence_until_the_limit_ends_the_call(daily):
    result, session, saved = call(daily, [("identity", "1")], max_tries=3)
    assert session.played == [
        "intro",
        "identity",
        "q:temperature",
        "no_input",
        "q:temperature",
        "no_input",
        "q:temperature",
        "give_up",
    ]
    assert result.outcome == "failed"  # nothing usable was said
    assert result.reason == "no_input"
    assert result.answers == {} and saved == []
    assert session.hung_up


def test_the_limit_after_some_answers_keeps_them(daily):
    presses = [("identity", "1"), ("q:temperature", "365#")]
    result, session, saved = call(daily, presses, max_tries=2)
    assert result.outcome == "hung_up"
    assert result.answers == {"temperature": 36.5}
    assert saved == [("temperature", 36.5)]
    assert session.played[-1] == "give_up"


def test_silence_at_the_identity_check_fails(daily):
    result, session, _ = call(daily, [], max_tries=2)
    assert result.outcome == "failed"
    assert session.played == ["intro", "identity", "no_input", "identity", "give_up"]


def test_zero_asks_for_a_person(daily):
    presses = [("identity", "1"), ("q:temperature", "365#"), ("q:symptoms", "0")]
    result, session, _ = call(daily, presses)
    assert result.wants_person
    assert result.outcome == "answered"  # reached, with answers; the dialer calls back
    assert result.reason == "transfer"
    assert result.answers == {"temperature": 36.5}
    assert session.played[-1] == "transfer"
    assert session.hung_up


def test_zero_before_any_answer_is_failed_but_wants_a_person(daily):
    result, session, _ = call(daily, [("identity", "1"), ("q:temperature", "0")])
    assert result.wants_person and result.outcome == "failed"
    assert session.played[-1] == "transfer"


def test_family_member_answers_by_proxy(daily):
    presses = [("identity", "2"), ("proxy", "1"), *HEALTHY_DAILY[1:]]
    result, session, _ = call(daily, presses)
    assert result.by_proxy
    assert result.outcome == "answered"
    assert session.played[1:4] == ["identity", "proxy", "q:temperature"]


def test_not_the_person_and_no_proxy_is_refused(daily):
    result, session, saved = call(daily, [("identity", "2"), ("proxy", "2")])
    assert result.outcome == "refused"
    assert result.answers == {} and saved == []
    assert session.played == ["intro", "identity", "proxy", "goodbye"]


def test_hanging_up_mid_way_keeps_the_partial_answers(daily):
    # intro, identity, temperature, symptoms, then the line drops at the next prompt.
    result, _, saved = call(daily, HEALTHY_DAILY, hang_up_after=4)
    assert result.outcome == "hung_up"
    assert result.reason == "hung_up"
    assert result.answers == {"temperature": 36.5, "symptoms": ["none"]}
    assert saved == [("temperature", 36.5), ("symptoms", ["none"])]
    assert result.transcript[-1]["event"] == "hung_up"


def test_hanging_up_during_the_closing_is_still_answered(daily):
    result, _, _ = call(daily, HEALTHY_DAILY, hang_up_after=8)
    assert result.outcome == "answered"
    assert len(result.answers) == 6


def test_hanging_up_during_the_intro(daily):
    result, _, _ = call(daily, HEALTHY_DAILY, hang_up_after=0)
    assert result.outcome == "hung_up" and result.answers == {}


def test_on_answer_is_awaited_after_each_answer_in_order(daily):
    result, _, saved = call(daily, HEALTHY_DAILY)
    assert [key for key, _ in saved] == [
        "temperature",
        "symptoms",
        "contact_confirmed",
        "tested_today",
        "medication_needs",
        "needs_help",
    ]
    answer_events = [e["key"] for e in result.transcript if e.get("event") == "answer"]
    assert answer_events == [key for key, _ in saved]


def test_keys_pressed_during_the_intro_do_not_answer_the_identity_check(daily):
    presses = [("intro", "1"), ("identity", "2"), ("proxy", "2")]
    result, _, _ = call(daily, presses)
    assert result.outcome == "refused"
    assert {"digits": "1"} in [
        {k: v for k, v in e.items() if k == "digits"} for e in result.transcript
    ]


def test_transcript_times_are_relative_to_the_call_start(daily):
    ticks = iter(range(1000, 2000))
    result, _, _ = call(daily, HEALTHY_DAILY, clock=lambda: next(ticks))
    times = [entry["t"] for entry in result.transcript]
    assert times == sorted(times) and times[0] >= 0
    assert result.transcript[0] == {"t": 1, "prompt": "intro"}
    assert {"digits": "1"} in [
        {k: v for k, v in e.items() if k == "digits"} for e in result.transcript
    ]


def test_an_optional_question_given_up_on_is_passed_over(daily):
    presses = [
        ("identity", "1"),
        ("q:temperature", "365#"),
        ("q:symptoms", "2"),
        ("q:contact_confirmed", "2"),
        ("q:tested_today", "5"),  # only 1–3 exist
        ("q:tested_today", "6"),
        ("q:medication_needs", "2"),
        ("q:needs_help", "2"),
    ]
    result, _, _ = call(daily, presses, max_tries=2)
    assert result.outcome == "answered"
    assert "tested_today" not in result.answers
    assert any(e.get("event") == "passed" for e in result.transcript)
