"""Spoken yes/no answers: an offline speech recogniser behind one small interface, and the
keyword grammar that reads 是/不是/对/有/没有/没去过 … out of what it heard.

Speech is optional. The robot works on the keypad alone; an operator who wants residents to
be able to answer yes/no questions aloud installs Vosk (`pip install vosk`), downloads an
offline Chinese model (vosk-model-small-cn: the small models accept the keyword grammar) and
points LINLI_VOICE_ASR_MODEL at its folder. `recogniser_from_settings()` returns None while
that setting is empty, and vosk is imported only when it is set.

`yes_no_from_speech(text)` is the grammar (linli.adapters.asr.grammar); Recogniser the
interface (base.py) and VoskRecogniser the one engine shipped (vosk.py).
"""

from functools import lru_cache

from django.conf import settings

from linli.adapters.asr.base import Recogniser
from linli.adapters.asr.grammar import GRAMMAR_WORDS, yes_no_from_speech
from linli.adapters.asr.vosk import VoskRecogniser

__all__ = [
    "GRAMMAR_WORDS",
    "Recogniser",
    "VoskRecogniser",
    "recogniser_from_settings",
    "yes_no_from_speech",
]


@lru_cache(maxsize=2)
def _load(path: str) -> Recogniser:
    return VoskRecogniser(path)


def recogniser_from_settings() -> Recogniser | None:
    """The recogniser the operator configured (LINLI_VOICE_ASR_MODEL), loaded once per
    process; None when the setting is empty: the robot takes the keypad only."""
    path = str(getattr(settings, "LINLI_VOICE_ASR_MODEL", "") or "")
    return _load(path) if path else None
