"""System checks for the speech engine setting (registered by linli.adapters.apps)."""

import shutil

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import tts


def check_tts_settings(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Returns an error when LINLI_VOICE_TTS names no usable engine (linli.E052).

    In production (LINLI_ENV=production) it also warns when the prompts would not be speech:
    the fake engine, or espeak-ng not installed (linli.W052).
    """
    try:
        engine = tts.get_tts()
    except (ImproperlyConfigured, TypeError) as exc:
        return [
            Error(
                f"The speech engine cannot be created: {exc}",
                hint="LINLI_VOICE_TTS: a dotted path to a TTS class, or espeak / fake.",
                id="linli.E052",
            )
        ]
    if getattr(settings, "LINLI_ENV", "") != "production":
        return []
    if isinstance(engine, tts.FakeTTS):
        return [
            Warning(
                "LINLI_VOICE_TTS is the fake engine: the phone robot's prompts are tones.",
                hint="Set LINLI_VOICE_TTS to espeak (or your engine).",
                id="linli.W052",
            )
        ]
    if isinstance(engine, tts.EspeakTTS) and shutil.which(engine.binary) is None:
        return [
            Warning(
                f"{engine.binary} is not installed: the phone robot cannot speak its prompts.",
                hint="apt install espeak-ng",
                id="linli.W052",
            )
        ]
    return []
