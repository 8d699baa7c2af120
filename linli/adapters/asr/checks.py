"""System checks for the speech recogniser setting (registered by linli.adapters.apps)."""

import importlib.util
from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error


def check_asr_settings(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Returns an error when LINLI_VOICE_ASR_MODEL is set but cannot work: no model folder
    there, or vosk not installed (linli.E053). Loading the model is left to the dialer: a
    check runs with every management command and must stay cheap."""
    path = str(getattr(settings, "LINLI_VOICE_ASR_MODEL", "") or "")
    if not path:
        return []
    problems = []
    if not Path(path).is_dir():
        problems.append(f"no model folder at {path}")
    if importlib.util.find_spec("vosk") is None:
        problems.append("vosk is not installed (pip install vosk)")
    return [
        Error(
            f"LINLI_VOICE_ASR_MODEL: {problem}",
            hint="See docs/adapters-telephony.md (speech); empty the setting for keypad only.",
            id="linli.E053",
        )
        for problem in problems
    ]
