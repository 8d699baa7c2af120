"""A stand-in speech engine for tests and demos without espeak-ng."""

import hashlib
import math
from functools import lru_cache

from linli.adapters.media import g711
from linli.adapters.telephony.base import SAMPLE_RATE
from linli.adapters.tts.base import TTS
from linli.adapters.tts.speakable import PAUSE, STOP


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
            if ch.isspace() or STOP.fullmatch(ch) or PAUSE.fullmatch(ch):
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
