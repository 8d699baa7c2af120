"""Spoken yes/no answers: the keyword grammar, and the Vosk adapter's wiring (with a stand-in
vosk module: the real one is an operator's optional install)."""

import asyncio
import json
import sys
import types

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.screening.questionnaires.templates import daily_symptoms_template
from linli.voice import asr
from linli.voice import script as scripts
from linli.voice.dialogue import run_dialogue
from linli.voice.media.g711 import lin2ulaw
from linli.voice.script import script_for
from linli.voice.tests.test_dialogue import (
    HEALTHY_DAILY,
    TODAY,
    ScriptedCall,
    Version,
    call,
)
from linli.voice.tts import FakeTTS


@pytest.mark.parametrize(
    "text",
    [
        "是",
        "是的",
        "是的是的",
        "对",
        "对的",
        "對",
        "有",
        "有的",
        "有一点",
        "去过",
        "去過",
        "嗯",
        "嗯嗯",
        "恩",
        "好的",
        "可以",
        "要",
        "需要",
        "没错",
        "沒錯",
        "当然有",
        "嗯，是的。",
        "呃……有",
        "那个，去过",
        "是不是发烧？是",
        "有没有……有",
        " 是 的 ",
    ],
)
def test_yes(text):
    assert asr.yes_no_from_speech(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "不是",
        "没有",
        "沒有",
        "没去过",
        "沒去過",
        "不对",
        "不對",
        "没",
        "沒",
        "不",
        "否",
        "不用",
        "不要",
        "不需要",
        "没事",
        "未去过",
        "冇",
        "嗯……没有",
        "呃，不是的",
        "那个没有",
        "是不是？不是",
        "有没有发烧？没有",
        "没有没有",
        "不是不是",
        "对，没有",
        "嗯，没去过",
    ],
)
def test_no(text):
    assert asr.yes_no_from_speech(text) is False


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "。",
        "呃",
        "啊",
        "哦",
        "那个",
        "不知道",
        "我不清楚",
        "不確定",
        "不记得了",
        "说不好",
        "可能有",
        "好像去过",
        "还好",
        "無所謂",
        "是不是",
        "有没有",
        "去没去过",
        "喂",
        "你好",
        "hello",
        "[unk]",
    ],
)
def test_unclear(text):
    assert asr.yes_no_from_speech(text) is None


def test_no_recogniser_without_a_model(settings):
    settings.LINLI_VOICE_ASR_MODEL = ""
    assert asr.recogniser_from_settings() is None


def test_a_model_path_without_vosk_or_folder_is_a_clear_error(settings, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vosk", None)  # import vosk raises ImportError
    asr._load.cache_clear()
    settings.LINLI_VOICE_ASR_MODEL = str(tmp_path)
    with pytest.raises(ImproperlyConfigured, match="pip install vosk"):
        asr.recogniser_from_settings()
    with pytest.raises(ImproperlyConfigured, match="no model folder"):
        asr.VoskRecogniser(tmp_path / "missing")


class _FakeRecognizer:
    heard: list = []

    def __init__(self, model, rate, grammar):
        self.model, self.rate, self.grammar = model, rate, json.loads(grammar)
        self.audio = b""
        _FakeRecognizer.heard.append(self)

    def AcceptWaveform(self, data):
        self.audio += data
        return True

    def FinalResult(self):
        return json.dumps({"text": "没 去过 [unk]"}, ensure_ascii=False)


def fake_vosk() -> types.ModuleType:
    module = types.ModuleType("vosk")
    module.SetLogLevel = lambda level: None
    module.Model = lambda path: ("model", path)
    module.KaldiRecognizer = _FakeRecognizer
    return module


def test_vosk_recogniser_decodes_call_audio_at_the_models_rate_with_the_grammar(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "vosk", fake_vosk())
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=16000\n")
    asr._load.cache_clear()
    settings.LINLI_VOICE_ASR_MODEL = str(tmp_path)
    recogniser = asr.recogniser_from_settings()
    assert recogniser is asr.recogniser_from_settings()  # loaded once
    _FakeRecognizer.heard.clear()
    half_second = lin2ulaw([0] * 4000)
    text = recogniser.recognise(half_second)
    assert text == "没去过" and asr.yes_no_from_speech(text) is False
    (used,) = _FakeRecognizer.heard
    assert used.model == ("model", str(tmp_path)) and used.rate == 16000
    assert len(used.audio) == 2 * 8000  # 0.5 s of 16-bit samples at 16 kHz
    assert "没有" in used.grammar and "[unk]" in used.grammar
    assert recogniser.recognise(b"") == ""
    asr._load.cache_clear()


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


def test_rtp_stream_records_received_audio_only_while_listening():
    from linli.voice.media.rtp import RtpStream

    async def scenario():
        a, b = await RtpStream.open(), await RtpStream.open()
        a.connect(b.local_host, b.local_port, event_payload_type=101)
        b.connect(a.local_host, a.local_port, event_payload_type=101)
        try:
            await b.play(lin2ulaw([1000] * 800), barge_in=False)  # before: not kept
            await asyncio.sleep(0.05)
            a.start_recording()
            said = bytes(range(256)) * 5  # 1280 bytes: 8 frames
            await b.play(said, barge_in=False)
            await asyncio.sleep(0.1)
            heard = a.take_recording()
            await b.play(lin2ulaw([1000] * 800), barge_in=False)  # after: not kept
            await asyncio.sleep(0.05)
            return said, heard, a.take_recording()
        finally:
            a.close()
            b.close()

    said, heard, after = asyncio.run(scenario())
    assert heard == said and after == b""
