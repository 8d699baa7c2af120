"""The simulated residents answer a lead's own questionnaire, not only the demo one: they
press what the prompts the dialogue plays accept (Prompt.answers), whatever the questions."""

from datetime import time

import pytest

from linli.adapters.telephony.base import Prompt
from linli.adapters.telephony.simulated import PERSONAS, Rates, SimulatedCarrier
from linli.screening.models import CampaignTarget, ContactAttempt
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.dialer import VirtualClock
from linli.voice.models import default_retry_rules
from linli.voice.script import answer_keys, build
from linli.voice.services import robots as robot_services
from linli.voice.tests.test_dialer import local, make_dialer, make_line

OWN = {
    "title": "楼栋自查",
    "intro": "您好，这里是社区居委会。",
    "closing": "谢谢，再见。",
    "questions": [
        {"key": "lives_here", "kind": "yes_no", "text": "您现在住在本小区吗？", "required": True},
        {
            "key": "floor_kind",
            "kind": "single_choice",
            "text": "您住的楼有电梯吗？",
            "required": True,
            "options": [
                {"code": "lift", "label": "有电梯"},
                {"code": "stairs", "label": "没有电梯"},
                {"code": "unsure", "label": "不清楚"},
            ],
        },
        {
            "key": "household_size",
            "kind": "number",
            "text": "家里住几口人？",
            "required": True,
            "min": 1,
            "max": 12,
        },
        {
            "key": "age",
            "kind": "number",
            "text": "您的年龄？",
            "required": True,
            "min": 18,
            "max": 100,
        },
        {
            "key": "arrived",
            "kind": "date",
            "text": "您哪天搬来本小区？",
            "required": True,
            "min": "2000-01-01",
            "max": "today",
        },
    ],
}


def own_campaign(world):
    questionnaire = questionnaire_services.create_questionnaire(
        name="楼栋自查", area=world.a.community, by=world.lead_a, definition=OWN
    )
    campaign = campaign_services.create_campaign(
        name="楼栋自查",
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
        calling_start=time(8),
        calling_end=time(21),
        retry_rules=default_retry_rules(),
    )
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    return campaign


def test_every_question_prompt_lists_answers_it_accepts():
    _texts, steps, _skipped = build(OWN)
    answers = answer_keys(steps, OWN)
    assert answers["q:lives_here"] == ("1", "2")
    assert answers["q:floor_kind"] == ("1", "2", "3")
    assert answers["q:arrived"] and all(len(a) == 9 for a in answers["q:arrived"])
    assert answers["q:household_size"] and all(
        a.endswith("#") and 1 <= int(a[:-1]) <= 12 for a in answers["q:household_size"]
    )


def test_a_resident_presses_a_valid_key_for_a_question_they_never_heard_of():
    number = Prompt("q:household_size", "家里住几口人？", b"", answers=("1#", "6#", "12#"))
    for persona in PERSONAS.values():
        if not persona.silent:
            assert persona.response(number) in number.answers
    spoken = Prompt("closing", "再见。", b"")
    assert PERSONAS["healthy"].response(spoken) is None


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["healthy", "presses_1", "impatient"])
def test_simulated_call_on_a_custom_questionnaire_completes_with_answers(world, persona):
    campaign = own_campaign(world)
    carrier = SimulatedCarrier(
        rates=Rates(answer=1.0, no_answer=0, busy=0, wrong_number=0), persona_mix={persona: 1}
    )
    clock = VirtualClock(local(0, 9, 0))
    try:
        stats = clock.run(make_dialer(clock, make_line(), carrier).run(once=True))
    finally:
        clock.close()
    assert stats.finished == 2
    attempts = ContactAttempt.objects.filter(campaign=campaign)
    assert {a.outcome for a in attempts} == {"answered"}
    for attempt in attempts:
        assert set(attempt.answers) == {
            "lives_here",
            "floor_kind",
            "household_size",
            "age",
            "arrived",
        }
        assert 1 <= attempt.answers["household_size"] <= 12
        assert 18 <= attempt.answers["age"] <= 100
    assert set(
        CampaignTarget.objects.filter(campaign=campaign, status="reached").values_list(
            "person_id", flat=True
        )
    ) == {a.target.person_id for a in attempts}
