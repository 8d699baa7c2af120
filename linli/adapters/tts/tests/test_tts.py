"""Text to speech: numbers said in Chinese, pinyin with tones, and real espeak-ng audio."""

import itertools
import os
import shutil

import pytest

from linli.adapters.media import g711
from linli.adapters.telephony.base import SAMPLE_RATE
from linli.adapters.tts import EspeakTTS, FakeTTS, TTSError, get_tts
from linli.adapters.tts.speakable import integer_zh, number_zh, speakable, to_pinyin


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (14, "十四"),
        (37, "三十七"),
        (100, "一百"),
        (105, "一百零五"),
        (1010, "一千零一十"),
        (2022, "二千零二十二"),
        (30000, "三万"),
        (100005, "十万零五"),
    ],
)
def test_integers_are_said_in_chinese(number, spoken):
    assert integer_zh(number) == spoken


def test_decimals_are_read_digit_by_digit_after_the_point():
    assert number_zh("37.3") == "三十七点三"
    assert number_zh("38.25") == "三十八点二五"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("体温37.3℃", "体温三十七点三度"),
        ("是请按1，否请按2", "是请按一，否请按二"),
        ("请按375，再按井号", "请按三七五，再按井号"),
        ("近14天内", "近十四天内"),
        ("例如20220105", "例如二零二二零一零五"),
        ("2022年1月5日", "二零二二年一月五日"),
        ("请拨打12345", "请拨打一二三四五"),
    ],
)
def test_numbers_in_text_are_made_speakable(text, spoken):
    assert speakable(text) == spoken


def test_pinyin_has_tone_numbers_neutral_five_and_pauses():
    pinyin = to_pinyin("您好吗？请按1。")
    assert pinyin == "nin2 hao3 ma5. qing3 an4 yi1."


def test_pinyin_fixes_domain_words_and_drops_what_the_voice_would_misread():
    assert to_pinyin("重听请按9") == "chong2 ting1 qing3 an4 jiu3"
    assert to_pinyin("咽痛") == "yan1 tong4"
    # Latin letters and brackets are not spoken by the pinyin voice.
    assert "PIPL" not in to_pinyin("《个人信息保护法》（PIPL）")


def test_fake_tts_is_deterministic_and_follows_text_length():
    tts = FakeTTS()
    short, long = tts.synthesise("是请按1"), tts.synthesise("是请按1，否请按2，重听请按9")
    assert short == FakeTTS().synthesise("是请按1")
    assert len(long) > 2 * len(short)
    assert len(short) == 4 * SAMPLE_RATE * FakeTTS.MS_PER_CHAR // 1000
    assert tts.calls == ["是请按1", "是请按1，否请按2，重听请按9"]


def test_the_setting_picks_the_engine(settings):
    settings.LINLI_VOICE_TTS = "fake"
    assert isinstance(get_tts(), FakeTTS)
    settings.LINLI_VOICE_TTS = "linli.adapters.tts.espeak.EspeakTTS"
    assert isinstance(get_tts(), EspeakTTS)


def test_engine_name_covers_voice_and_rate():
    assert EspeakTTS().name != EspeakTTS(rate=120).name
    assert "cmn-latn-pinyin" in EspeakTTS().name


def test_a_missing_binary_is_a_tts_error():
    with pytest.raises(TTSError):
        EspeakTTS(binary="espeak-ng-not-installed").synthesise("您好")


ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(
    ESPEAK is None and os.environ.get("LINLI_REQUIRE_ESPEAK") != "1",
    reason="espeak-ng is not installed (set LINLI_REQUIRE_ESPEAK=1 to make this a failure)",
)


@needs_espeak
def test_espeak_speaks_a_prompt_as_8khz_ulaw():
    text = "请确认您是张某伟本人，是请按1，不是请按2。"
    audio = EspeakTTS().synthesise(text)
    seconds = len(audio) / SAMPLE_RATE
    # About 20 syllables: a couple of seconds of speech, not a blip and not a minute.
    assert 1.5 < seconds < 15
    samples = g711.ulaw2lin(audio)
    loud = sum(1 for s in samples if abs(s) > 1000)
    assert loud > len(samples) // 10, "the prompt is (nearly) silent"
    assert max(abs(s) for s in samples) < 32767 * 0.9  # levelled, not clipped
    # Plausible as speech at 8 kHz: energy spread well below the 4 kHz Nyquist, i.e. the
    # signal is not white noise (adjacent samples correlate).
    pairs = sum(a * b for a, b in itertools.pairwise(samples))
    assert pairs > 0


@needs_espeak
def test_espeak_is_deterministic_and_reads_numbers():
    tts = EspeakTTS()
    assert tts.synthesise("体温37.3度") == tts.synthesise("体温三十七点三度")
    assert tts.synthesise("请按1") == tts.synthesise("请按一")
