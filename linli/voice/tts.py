"""Text to speech for the phone robot: Chinese text in, 8 kHz μ-law (the telephone's own
format, linli.voice.contracts) out.

The engine is an adapter chosen by the LINLI_VOICE_TTS setting (a dotted path, or the short
names "espeak" and "fake"), so a deployment can plug in a better voice without touching the
script or the dialogue. Every adapter has a `name` that identifies the engine, voice and
settings: stored prompts are keyed by it, so changing the engine re-synthesises them.

EspeakTTS uses espeak-ng, which Debian ships and which works offline. Its Mandarin voice reads
Chinese characters poorly and plain `cmn` reads tone digits aloud, but the `cmn-latn-pinyin`
voice given pinyin with tone numbers pronounces the tones correctly; so the text is first made
speakable (numbers written out in Chinese: 37.3 → 三十七点三, keys to press digit by digit:
请按1 → 请按一) and then turned into pinyin with pypinyin. espeak-ng's 22.05 kHz WAV is levelled
and converted to 8 kHz μ-law with the media part's codec (linli.voice.media.g711).
"""

import hashlib
import math
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string
from pypinyin import Style, lazy_pinyin

from linli.voice.contracts import SAMPLE_RATE
from linli.voice.media import g711


class TTSError(Exception):
    """The engine could not synthesise a text (missing binary, crash, timeout, bad output)."""


class TTS(ABC):
    """A speech engine. `synthesise` must be deterministic for a given `name` and text, since
    its output is stored and reused across restarts."""

    name: str = ""
    # Whether synthesis takes long enough (a subprocess, a model) that asyncio callers should
    # run it in a thread.
    blocking: bool = True

    @abstractmethod
    def synthesise(self, text: str) -> bytes:
        """Returns the text spoken as 8 kHz mono μ-law. Raises TTSError."""


ALIASES = {
    "espeak": "linli.voice.tts.EspeakTTS",
    "espeak-ng": "linli.voice.tts.EspeakTTS",
    "fake": "linli.voice.tts.FakeTTS",
}


def get_tts(path: str | None = None) -> TTS:
    """Returns the engine named by `path` or the LINLI_VOICE_TTS setting."""
    path = path or getattr(settings, "LINLI_VOICE_TTS", "") or "espeak"
    cls = import_string(ALIASES.get(path, path))
    return cls()


# ---------------------------------------------------------------------------------------------
# Speakable text: numbers in Chinese


_DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# After these, numbers are keys to press or codes: read digit by digit.
_DIGIT_BY_DIGIT_BEFORE = ("按", "拨", "输入")


def digits_zh(text: str) -> str:
    """ "375" → 三七五, "37.5" → 三七点五."""
    return "".join("点" if ch == "." else _DIGITS[int(ch)] for ch in text)


def _below_10000(n: int) -> str:
    out = []
    zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + _UNITS[position])
    return "".join(out)


def integer_zh(n: int) -> str:
    """14 → 十四, 105 → 一百零五, 20000 → 二万; 0 → 零."""
    if n == 0:
        return "零"
    if n < 0:
        return "负" + integer_zh(-n)
    parts = []
    for unit, size in (("亿", 10**8), ("万", 10**4), ("", 1)):
        chunk = n // size % 10000 if size < 10**8 else n // size
        if chunk:
            if parts and chunk < 1000:
                parts.append("零")
            parts.append((integer_zh(chunk) if chunk >= 10000 else _below_10000(chunk)) + unit)
        elif parts and parts[-1] != "零":
            parts.append("零")
    text = "".join(parts).rstrip("零")
    # 10–19 are said 十…, not 一十….
    return text[1:] if text.startswith("一十") else text


def number_zh(text: str) -> str:
    """37.3 → 三十七点三 (the decimals are read digit by digit)."""
    whole, _, decimals = text.partition(".")
    spoken = integer_zh(int(whole))
    return spoken + ("点" + digits_zh(decimals) if decimals else "")


def speakable(text: str) -> str:
    """Writes the numbers of a text in Chinese characters: keys to press and long codes
    (dates as 20220105, phone numbers) digit by digit, a year before 年 digit by digit,
    quantities as numbers (14天 → 十四天, 37.3 → 三十七点三)."""
    text = text.replace("℃", "度").replace("°C", "度").replace("%", "")

    def replace(match: re.Match) -> str:
        value = match.group(0)
        before = text[: match.start()].rstrip()
        after = text[match.end() :]
        if before.endswith(_DIGIT_BY_DIGIT_BEFORE):
            return digits_zh(value)
        if len(value) >= 5 and "." not in value:
            return digits_zh(value)
        if len(value) > 1 and value.startswith("0") and "." not in value:
            return digits_zh(value)
        if len(value) == 4 and after.startswith("年"):
            return digits_zh(value)
        return number_zh(value)

    return _NUMBER.sub(replace, text)


# Words pypinyin reads with the wrong pronunciation in this domain.
PINYIN_OVERRIDES = {
    "重听": "chong2 ting1",
    "咽痛": "yan1 tong4",
    "咽喉": "yan1 hou2",
}
_OVERRIDE = re.compile("|".join(map(re.escape, PINYIN_OVERRIDES)))
_PAUSE = re.compile(r"[，、；：,;:—…~\-]+")
_STOP = re.compile(r"[。！？!?.]+")


def _punctuation(segment: str) -> str:
    """Keeps pauses as ASCII punctuation espeak understands; drops everything else that is not
    Chinese (brackets, quotes, Latin letters that the pinyin voice would misread)."""
    out = []
    for ch in segment:
        if _STOP.fullmatch(ch):
            out.append(". ")
        elif _PAUSE.fullmatch(ch):
            out.append(", ")
        elif ch.isspace():
            out.append(" ")
    return "".join(out)


def to_pinyin(text: str) -> str:
    """Returns the text as pinyin with tone numbers (neutral tone 5), punctuation kept as
    pauses: "请按1。" → "qing3 an4 yi1. "."""
    text = speakable(text)
    words: list[str] = []
    position = 0
    chunks: list[tuple[str, bool]] = []
    for match in _OVERRIDE.finditer(text):
        chunks.append((text[position : match.start()], False))
        chunks.append((match.group(0), True))
        position = match.end()
    chunks.append((text[position:], False))
    for chunk, fixed in chunks:
        if fixed:
            words.append(PINYIN_OVERRIDES[chunk])
            continue
        for item in lazy_pinyin(chunk, style=Style.TONE3, neutral_tone_with_five=True):
            if re.fullmatch(r"[a-zü]+[1-5]", item):
                words.append(item)
            else:
                pause = _punctuation(item)
                if pause.strip() and words:
                    words[-1] += pause.rstrip()
    return " ".join(words).strip()


# ---------------------------------------------------------------------------------------------
# Audio


def normalise(samples: list[int], peak: float = 0.7, max_gain: float = 4.0) -> list[int]:
    """Scales the samples so their peak reaches `peak` of full scale: espeak speaks softly,
    and a prompt on the phone should sit at a steady, clear level."""
    top = max((abs(s) for s in samples), default=0)
    if not top:
        return samples
    gain = min(max_gain, peak * 32767 / top)
    return [int(s * gain) for s in samples]


# ---------------------------------------------------------------------------------------------
# Engines


class EspeakTTS(TTS):
    """espeak-ng with the cmn-latn-pinyin voice, fed pinyin with tone numbers."""

    # Bump when the text → pinyin conversion changes, so stored prompts are redone.
    CONVERSION = "pinyin1"

    def __init__(
        self,
        *,
        voice: str = "cmn-latn-pinyin",
        # Words per minute, a pinyin syllable being a word: 200 is about 3.6 syllables a
        # second with the pauses, calmer than everyday speech (4–5) for elderly ears.
        rate: int = 200,
        binary: str = "espeak-ng",
        timeout: float = 30.0,
    ) -> None:
        self.voice = voice
        self.rate = rate
        self.binary = binary
        self.timeout = timeout
        self.name = f"espeak-ng/{voice}/s{rate}/{self.CONVERSION}"

    def synthesise(self, text: str) -> bytes:
        pinyin = to_pinyin(text)
        if not pinyin:
            return b""
        binary = shutil.which(self.binary)
        if binary is None:
            raise TTSError(f"{self.binary} is not installed")
        try:
            done = subprocess.run(  # noqa: S603 - fixed binary, text passed on stdin
                [binary, "-v", self.voice, "-s", str(self.rate), "--stdout"],
                input=pinyin.encode(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TTSError(f"{self.binary} timed out after {self.timeout}s") from exc
        if done.returncode != 0 or not done.stdout:
            message = done.stderr.decode(errors="replace").strip()[:200]
            raise TTSError(f"{self.binary} failed ({done.returncode}): {message}")
        try:
            samples, rate = g711.read_wav(done.stdout)
        except ValueError as exc:
            raise TTSError(f"{self.binary} wrote no usable WAV: {exc}") from exc
        return g711.lin2ulaw(g711.resample(normalise(samples), rate, SAMPLE_RATE))


class FakeTTS(TTS):
    """A deterministic stand-in for tests and demos without espeak: a short tone per character
    (its pitch from the character) and silence for punctuation, 40 ms each, so a prompt's
    length follows its text."""

    name = "fake/1"
    blocking = False
    MS_PER_CHAR = 40

    def __init__(self) -> None:
        self.calls: list[str] = []

    def synthesise(self, text: str) -> bytes:
        self.calls.append(text)
        per_char = SAMPLE_RATE * self.MS_PER_CHAR // 1000
        out = bytearray()
        for ch in text:
            if ch.isspace() or _STOP.fullmatch(ch) or _PAUSE.fullmatch(ch):
                out += bytes([0xFF]) * per_char  # μ-law silence
                continue
            pitch = 300 + int(hashlib.sha256(ch.encode()).hexdigest()[:2], 16) * 3
            out += _tone(pitch, per_char)
        return bytes(out)


@lru_cache(maxsize=1024)
def _tone(frequency: int, count: int) -> bytes:
    return g711.lin2ulaw(
        [int(8000 * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)) for n in range(count)]
    )
