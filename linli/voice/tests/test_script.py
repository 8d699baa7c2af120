"""The spoken script of a questionnaire: prompts per kind, keypad mapping, stored prompts."""

import json
from dataclasses import dataclass

import pytest

from linli.adapters.tts import FakeTTS, speakable
from linli.screening.questionnaires.schema import validate_definition
from linli.screening.questionnaires.templates import (
    PIPL_BASIS,
    arrivals_template,
    daily_symptoms_template,
)
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.tests.builders import arrivals_for
from linli.voice import script as scripts
from linli.voice.script import (
    CLOSING,
    GIVE_UP,
    GOODBYE,
    HELP,
    INTRO,
    INVALID,
    NO_INPUT,
    PROXY,
    TRANSFER,
    identity_prompt,
    script_for,
    short_intro,
    spoken_name,
)


@dataclass
class Version:
    """What script_for needs of a QuestionnaireVersion."""

    pk: int
    definition: dict


@pytest.fixture(autouse=True)
def prompt_dir(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    scripts.clear_cache()
    yield tmp_path / "voice" / "prompts"
    scripts.clear_cache()


def test_daily_symptoms_script_has_every_prompt():
    defn = daily_symptoms_template()
    script = script_for(Version(1, defn), tts=FakeTTS())
    for name in (INTRO, CLOSING, PROXY, INVALID, NO_INPUT, TRANSFER, GOODBYE, GIVE_UP):
        assert script.prompts[name].audio, name
    assert set(script.steps) == {
        "temperature",
        "symptoms",
        "contact_confirmed",
        "tested_today",
        "medication_needs",
        "needs_help",
    }
    # Free text cannot be typed on a keypad: left for the door knock.
    assert script.skipped == ("medication_detail", "help_detail")
    assert script.prompts[CLOSING].text == defn["closing"]
    assert script.prompts[INTRO].text == defn["intro"]  # short enough to keep whole


def test_arrivals_script_skips_free_text_and_numbers_choices():
    script = script_for(Version(2, arrivals_template()), tts=FakeTTS())
    assert "came_from" in script.skipped and "help_detail" in script.skipped
    transport = script.steps["transport"]
    assert transport.choices == ("plane", "train", "coach", "car", "other")
    text = script.prompts["q:transport"].text
    assert "飞机请按1" in text and "其他请按5" in text
    arrival = script.prompts["q:arrival_date"].text
    assert "请按年月日八位数字，再按井号" in arrival and "20220105" in arrival
    assert script.steps["arrival_date"].entry


def test_every_question_prompt_offers_repeat_and_a_person():
    script = script_for(Version(3, arrivals_template()), tts=FakeTTS())
    asked = [name for name in script.prompts if name.startswith("q:")]
    assert asked
    for name in asked:
        step = script.steps[name.split(":")[1]]
        if step.kind == "multiple_choice" and name != step.prompt:
            assert "是请按1，否请按2" in script.prompts[name].text  # an item
            continue
        if step.kind == "multiple_choice" and not step.exclusive:
            continue  # only reads the question out; its items carry the keys
        assert script.prompts[name].text.endswith(HELP), name


def test_keypad_mapping_per_kind():
    script = script_for(Version(4, daily_symptoms_template()), tts=FakeTTS())
    yes_no = script.prompts["q:contact_confirmed"].text
    assert "是请按1，否请按2" in yes_no
    choice = script.prompts["q:tested_today"].text
    assert "已经做了请按1" in choice and "今天不需要做请按3" in choice
    temperature = script.prompts["q:temperature"].text
    assert "请输入体温，例如三十七点五度，请按三七五，再按井号" in temperature
    assert "（℃）" not in temperature
    step = script.steps["temperature"]
    assert (step.decimals, step.low, step.high, step.entry) == (1, 34, 43, True)
    symptoms = script.steps["symptoms"]
    assert symptoms.exclusive == "none"
    assert [code for code, _ in symptoms.items] == [
        "fever",
        "cough",
        "fatigue",
        "sore_throat",
        "smell_taste_loss",
        "diarrhoea",
    ]
    gate = script.prompts["q:symptoms"].text
    assert "发热、干咳" in gate and "都没有请按2" in gate and "可多选" not in gate
    assert script.prompts["q:symptoms:fever"].text.startswith("是否发热？是请按1，否请按2")


def test_optional_typed_questions_say_how_to_skip():
    script = script_for(Version(5, arrivals_template()), tts=FakeTTS())
    assert "跳过请按星号" in script.prompts["q:temperature"].text  # optional there
    daily = script_for(Version(6, daily_symptoms_template()), tts=FakeTTS())
    assert "跳过" not in daily.prompts["q:temperature"].text  # required there


def test_numbers_in_prompts_are_spoken_in_chinese():
    script = script_for(Version(7, arrivals_template()), tts=FakeTTS())
    said = speakable(script.prompts["q:arrived_recently"].text)
    assert "十四天" in said and "是请按一，否请按二" in said
    assert "重听请按九，转人工请按零" in said
    assert "二零二二零一零五" in speakable(script.prompts["q:arrival_date"].text)


def test_a_choice_with_more_than_eight_options_is_not_asked_by_phone():
    defn = daily_symptoms_template()
    defn["questions"].insert(
        0,
        {
            "key": "district",
            "text": "您住在哪个区？",
            "kind": "single_choice",
            "required": False,
            "options": [{"code": f"d{i}", "label": f"第{i}区"} for i in range(1, 10)],
        },
    )
    assert validate_definition(defn) == []
    script = script_for(Version(8, defn), tts=FakeTTS())
    assert "district" in script.skipped and "district" not in script.steps


def test_a_long_intro_is_shortened_but_keeps_who_and_the_legal_basis():
    intro = (
        "您好！这里是长延堡社区居民委员会。"
        + PIPL_BASIS
        + "我们正在开展健康排查。"
        + "近期疫情形势复杂，境外输入病例和本土聚集性疫情时有发生，请大家提高警惕。" * 4
        + "您的信息只用于疫情防控，防控工作结束后依法删除。"
    )
    short = short_intro(intro)
    assert len(short) < len(intro)
    assert short.startswith("您好！这里是长延堡社区居民委员会。")
    assert "个人信息保护法" in short and "只用于疫情防控" in short
    assert short_intro("您好。") == "您好。"


def test_identity_prompt_says_the_masked_name_with_mou_and_is_cached(prompt_dir):
    tts = FakeTTS()
    script = script_for(Version(9, daily_symptoms_template()), tts=tts)
    calls = len(tts.calls)
    prompt = identity_prompt(script, "张*伟")
    assert prompt.name == "identity"
    assert prompt.text == "请确认您是张某伟本人，是请按1，不是请按2。"
    assert identity_prompt(script, "张*伟") is prompt
    assert len(tts.calls) == calls + 1
    assert spoken_name("欧**娜") == "欧某某娜"
    # Stored by a hash: the file name does not show the name.
    stored = list((prompt_dir / "identity").iterdir())
    assert len(stored) == 1 and "张" not in stored[0].name
    # Another script (a restart) finds it on disk.
    scripts.clear_cache()
    again = script_for(Version(9, daily_symptoms_template()), tts=FakeTTS())
    assert identity_prompt(again, "张*伟").audio == prompt.audio
    assert again.tts.calls == []


def test_prompts_are_stored_with_a_manifest_and_reused(prompt_dir):
    defn = daily_symptoms_template()
    first = FakeTTS()
    script = script_for(Version(10, defn), tts=first)
    assert first.calls  # synthesised
    directory = prompt_dir / "10"
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["engine"] == FakeTTS.name
    entry = manifest["prompts"]["q:temperature"]
    assert entry["text"] == script.prompts["q:temperature"].text
    assert (directory / entry["file"]).read_bytes() == script.prompts["q:temperature"].audio

    scripts.clear_cache()  # as after a restart
    second = FakeTTS()
    reloaded = script_for(Version(10, defn), tts=second)
    assert second.calls == []  # nothing synthesised again
    assert reloaded.prompts == script.prompts


def test_a_changed_engine_or_text_re_synthesises(prompt_dir):
    defn = daily_symptoms_template()
    script_for(Version(11, defn), tts=FakeTTS())

    class OtherVoice(FakeTTS):
        name = "fake/other-voice"

    scripts.clear_cache()
    other = OtherVoice()
    script_for(Version(11, defn), tts=other)
    assert len(other.calls) == len(scripts.build(defn)[0])  # every prompt again

    defn["closing"] = "谢谢，再见。"
    scripts.clear_cache()
    third = OtherVoice()
    script_for(Version(11, defn), tts=third)
    assert third.calls == ["谢谢，再见。"]  # only what changed


def test_a_damaged_stored_prompt_is_made_again(prompt_dir):
    defn = daily_symptoms_template()
    script_for(Version(12, defn), tts=FakeTTS())
    (prompt_dir / "12" / "intro.ulaw").write_bytes(b"\xff" * 10)
    scripts.clear_cache()
    tts = FakeTTS()
    script_for(Version(12, defn), tts=tts)
    assert tts.calls == [defn["intro"]]


@pytest.mark.django_db
def test_script_for_a_stored_questionnaire_version(world, settings):
    settings.LINLI_VOICE_TTS = "fake"
    version = questionnaire_selectors.latest_version(arrivals_for(world))
    script = script_for(version)
    assert script.version_id == version.pk
    assert script.engine == FakeTTS.name
    assert "q:arrived_recently" in script.prompts
    assert script_for(version) is script  # kept in memory
