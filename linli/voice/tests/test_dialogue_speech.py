"""Spoken yes/no answers in the dialogue: yes/no questions listen, unclear speech is asked
again, and without a recogniser only the keypad counts."""

import asyncio

import pytest

from linli.adapters import asr
from linli.adapters.tts import FakeTTS
from linli.screening.questionnaires.templates import daily_symptoms_template
from linli.voice import script as scripts
from linli.voice.dialogue import run_dialogue
from linli.voice.script import script_for
from linli.voice.tests.test_dialogue import (
    HEALTHY_DAILY,
    TODAY,
    ScriptedCall,
    Version,
    call,
)

# ---------------------------------------------------------------------------------------------
# Speech in the dialogue and on the RTP stream


@pytest.fixture
def daily(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    scripts.clear_cache()
    yield script_for(Version(101, daily_symptoms_template()), tts=FakeTTS())
    scripts.clear_cache()


class SpeakingCall(ScriptedCall):
    """A ScriptedCall whose entries ("q:x", "say:没有") speak instead of pressing: what they
    say is "heard" while the robot waits for a key after that prompt."""

    def __init__(self, presses):
        super().__init__([])
        self.entries = list(presses)
        self.speech = ""
        self.listening = False
        self.listened = 0

    async def play(self, prompt, *, barge_in=True):
        if self.entries and self.entries[0][0] == prompt.name:
            name, keys = self.entries.pop(0)
            if keys.startswith("say:"):
                self.speech = keys[4:]
            else:
                self.presses.append((name, keys))
        return await super().play(prompt, barge_in=barge_in)

    def start_listening(self):
        self.listening = True
        self.listened += 1
        return True

    def stop_listening(self):
        heard, self.speech, self.listening = self.speech, "", False
        return heard.encode()


class EchoRecogniser(asr.Recogniser):
    def recognise(self, ulaw_audio):
        return ulaw_audio.decode()


def speak(script, entries, **kw):
    session = SpeakingCall(entries)
    result = asyncio.run(run_dialogue(session, script, masked_name="张*伟", today=TODAY, **kw))
    return result, session


def test_yes_no_questions_take_spoken_answers(daily):
    spoken = [
        ("identity", "say:嗯，是的"),
        ("q:temperature", "365#"),
        ("q:symptoms", "say:没有"),
        ("q:contact_confirmed", "say:呃……沒有"),
        ("q:tested_today", "1"),  # a single choice: keys only
        ("q:medication_needs", "say:不需要"),
        ("q:needs_help", "say:不用"),
    ]
    result, session = speak(daily, spoken, recogniser=EchoRecogniser())
    keypad, _, _ = call(daily, HEALTHY_DAILY)
    assert result.outcome == "answered" and result.answers == keypad.answers
    assert [e["speech"] for e in result.transcript if "speech" in e][:2] == ["嗯，是的", "没有"]
    # Only yes/no questions listen: not the temperature.
    assert session.listened == 5


def test_unclear_speech_is_asked_again_and_keys_still_work(daily):
    entries = [
        ("identity", "say:不知道"),
        ("identity", "1"),
        *HEALTHY_DAILY[1:],
    ]
    result, _ = speak(daily, entries, recogniser=EchoRecogniser())
    assert result.outcome == "answered"
    assert {"event": "invalid"}.items() <= next(
        e for e in result.transcript if e.get("event") == "invalid"
    ).items()


def test_without_a_recogniser_speech_is_not_heard(daily):
    result, session = speak(daily, [("identity", "say:是"), ("identity", "1"), *HEALTHY_DAILY[1:]])
    assert session.listened == 0
    assert result.outcome == "answered"
    assert any(e.get("event") == "no_input" for e in result.transcript)
