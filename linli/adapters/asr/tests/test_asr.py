"""Spoken yes/no answers: the keyword grammar, and the Vosk adapter's wiring (with a stand-in
vosk module: the real one is an operator's optional install)."""

import json
import sys
import types

import pytest
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import asr
from linli.adapters.media.g711 import lin2ulaw


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
    with pytest.raises(ImproperlyConfigured, match="语音识别模型目录不存在"):
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
