"""Spoken yes/no answers: an offline speech recogniser behind one small interface, and the
keyword grammar that reads 是/不是/对/有/没有/没去过 … out of what it heard.

Speech is optional. The robot works on the keypad alone; an operator who wants residents to
be able to answer yes/no questions aloud installs Vosk (`pip install vosk`), downloads an
offline Chinese model (vosk-model-small-cn: the small models accept the keyword grammar) and
points LINLI_VOICE_ASR_MODEL at its folder. `recogniser_from_settings()` returns None while
that setting is empty, and vosk is imported only when it is set.

`yes_no_from_speech(text)` is the grammar: uncertainty (不知道, 不清楚, 还好 …) gives None
first, then any negation (不是, 没有, 没去过, 不对, 沒有 …) gives False, then an affirmative
(是, 对, 有, 去过, 嗯 …) gives True; anything else is None (ask again, or take the keypad).
Echoes of the question (是不是, 有没有, 去没去过) are dropped before reading, so "有没有？没有"
is a no and "是不是……是" a yes. Simplified and traditional characters read alike.
"""

import json
import re
import struct
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from linli.voice.contracts import SAMPLE_RATE
from linli.voice.media.g711 import resample, ulaw2lin

# Answers that say "I am not sure": neither yes nor no, whatever else they contain.
UNSURE = (
    "不知道",
    "不清楚",
    "不确定",
    "不確定",
    "不记得",
    "不記得",
    "说不好",
    "說不好",
    "不好说",
    "不好說",
    "说不清",
    "說不清",
    "不一定",
    "差不多",
    "无所谓",
    "無所謂",
    "没问题",
    "沒問題",
    "还好",
    "還好",
    "可能",
    "也许",
    "也許",
    "大概",
    "好像",
    "忘了",
)
# The question said back ("有没有发烧？"): not an answer, and it holds a negation.
ECHOES = (
    "是不是",
    "有没有",
    "有沒有",
    "对不对",
    "對不對",
    "去没去过",
    "去沒去過",
    "去没去",
    "去沒去",
    "要不要",
    "需不需要",
    "需要不需要",
    "有无",
    "有無",
)
# Affirmatives spelt with a negation character ("no mistake" = right).
AFFIRMATIVE_IDIOMS = ("没错", "沒錯", "不错", "不錯")
# One negation character anywhere is a no: 不是/不对/不用/不要/不需要, 没有/没去过/没, 否, 无, 冇.
NEGATIONS = ("不", "没", "沒", "否", "无", "無", "冇", "未")
AFFIRMATIVES = (
    "是",
    "对",
    "對",
    "有",
    "去过",
    "去過",
    "嗯",
    "恩",
    "好",
    "行",
    "可以",
    "要",
    "需要",
    "当然",
    "當然",
    "确实",
    "確實",
)
# Sounds and greetings that answer nothing, dropped before reading (嗯 alone is a yes: kept).
FILLERS = (
    "你好",
    "您好",
    "喂",
    "那个",
    "那個",
    "这个",
    "這個",
    "就是说",
    "就是說",
    "呃",
    "额",
    "額",
    "啊",
    "哦",
    "噢",
    "唉",
)
_NOT_SPEECH = re.compile(r"[\s\W_]+", re.UNICODE)

# The words a recogniser with a grammar may hear (Vosk's small models restrict decoding to
# them, which makes short answers on a phone line far more reliable).
GRAMMAR_WORDS = (
    "是",
    "是的",
    "不是",
    "对",
    "对的",
    "不对",
    "有",
    "有的",
    "没有",
    "没",
    "去过",
    "没去过",
    "嗯",
    "好",
    "要",
    "不要",
    "需要",
    "不需要",
    "不用",
    "没错",
    "不知道",
    "不清楚",
)


def yes_no_from_speech(text: str) -> bool | None:
    """Reads a spoken yes/no answer: True (yes), False (no) or None (unclear; see the module
    docstring for the order of the rules)."""
    heard = _NOT_SPEECH.sub("", (text or "").lower())
    for filler in FILLERS:
        heard = heard.replace(filler, "")
    for echo in ECHOES:
        heard = heard.replace(echo, "")
    if not heard or any(phrase in heard for phrase in UNSURE):
        return None
    idiom = False
    for phrase in AFFIRMATIVE_IDIOMS:
        if phrase in heard:
            idiom = True
            heard = heard.replace(phrase, "")
    if any(char in heard for char in NEGATIONS):
        return False
    if idiom or any(word in heard for word in AFFIRMATIVES):
        return True
    return None


class Recogniser(ABC):
    """Offline speech recognition of a short answer heard on a call."""

    @abstractmethod
    def recognise(self, ulaw_audio: bytes) -> str:
        """Returns the text heard in 8 kHz μ-law audio ('' for nothing recognisable).
        Blocking and CPU-bound: a call runs it in a worker thread."""


def _pcm16(samples: list[int]) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def _model_rate(model_path: Path) -> int:
    """The sample rate the model was trained on (its conf/mfcc.conf), 16 kHz when unsaid."""
    conf = model_path / "conf" / "mfcc.conf"
    if conf.is_file():
        match = re.search(r"--sample-frequency=(\d+)", conf.read_text(errors="replace"))
        if match:
            return int(match.group(1))
    return 16000


class VoskRecogniser(Recogniser):
    """Vosk (Kaldi) on an offline model folder, decoding with the keyword grammar."""

    def __init__(self, model_path: str | Path, *, words: tuple[str, ...] = GRAMMAR_WORDS):
        path = Path(model_path)
        if not path.is_dir():
            raise ImproperlyConfigured(
                f"LINLI_VOICE_ASR_MODEL: no model folder at {path} / 语音识别模型目录不存在"
            )
        try:
            import vosk
        except ImportError:
            raise ImproperlyConfigured(
                "LINLI_VOICE_ASR_MODEL is set but vosk is not installed (pip install vosk) "
                "/ 未安装 vosk"
            ) from None
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(str(path))
        self.sample_rate = _model_rate(path)
        self._grammar = json.dumps([*words, "[unk]"], ensure_ascii=False)

    def recognise(self, ulaw_audio: bytes) -> str:
        if not ulaw_audio:
            return ""
        samples = resample(ulaw2lin(ulaw_audio), SAMPLE_RATE, self.sample_rate)
        recogniser = self._vosk.KaldiRecognizer(self._model, self.sample_rate, self._grammar)
        recogniser.AcceptWaveform(_pcm16(samples))
        text = json.loads(recogniser.FinalResult()).get("text", "")
        # Chinese models put spaces between words; [unk] is what the grammar could not place.
        return text.replace("[unk]", "").replace(" ", "")


@lru_cache(maxsize=2)
def _load(path: str) -> Recogniser:
    return VoskRecogniser(path)


def recogniser_from_settings() -> Recogniser | None:
    """The recogniser the operator configured (LINLI_VOICE_ASR_MODEL), loaded once per
    process; None when the setting is empty: the robot takes the keypad only."""
    path = str(getattr(settings, "LINLI_VOICE_ASR_MODEL", "") or "")
    return _load(path) if path else None
