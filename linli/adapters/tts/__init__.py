"""Text to speech: Chinese text in, 8 kHz μ-law (the telephone's own format) out, with the
engine chosen in settings, the way Django's e-mail backends work.

    from linli.adapters import tts

    engine = tts.get_tts()          # settings.LINLI_VOICE_TTS, espeak-ng by default
    audio = engine.synthesise("请按1。")

LINLI_VOICE_TTS is a dotted path to a TTS class, or one of the short names "espeak" (the
local default, linli.adapters.tts.espeak.EspeakTTS) and "fake" (FakeTTS, for tests), so a
deployment can plug in a better voice without touching the robot's scripts. Every engine has
a `name` that identifies the engine, voice and settings: stored prompts are keyed by it.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from linli.adapters.tts.base import TTS, TTSError
from linli.adapters.tts.espeak import EspeakTTS
from linli.adapters.tts.fake import FakeTTS
from linli.adapters.tts.speakable import speakable, to_pinyin

__all__ = [
    "ALIASES",
    "DEFAULT_ENGINE",
    "TTS",
    "EspeakTTS",
    "FakeTTS",
    "TTSError",
    "get_tts",
    "speakable",
    "to_pinyin",
]

DEFAULT_ENGINE = "espeak"
ALIASES = {
    "espeak": "linli.adapters.tts.espeak.EspeakTTS",
    "espeak-ng": "linli.adapters.tts.espeak.EspeakTTS",
    "fake": "linli.adapters.tts.fake.FakeTTS",
}


def get_tts(path: str | None = None) -> TTS:
    """Returns a new engine named by `path`, or by settings.LINLI_VOICE_TTS, or espeak-ng.

    Raises ImproperlyConfigured when the class cannot be imported or is not a TTS engine.
    """
    path = path or getattr(settings, "LINLI_VOICE_TTS", "") or DEFAULT_ENGINE
    dotted = ALIASES.get(path, path)
    try:
        engine_class = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(f"LINLI_VOICE_TTS {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(engine_class, type) and issubclass(engine_class, TTS)):
        raise ImproperlyConfigured(f"LINLI_VOICE_TTS {path!r} is not a TTS engine")
    engine: TTS = engine_class()
    return engine
