"""Vosk (Kaldi), an offline recogniser: optional, imported only when a model is configured."""

import json
import re
import struct
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

from linli.adapters.asr.base import Recogniser
from linli.adapters.asr.grammar import GRAMMAR_WORDS
from linli.adapters.media.g711 import resample, ulaw2lin
from linli.adapters.telephony.base import SAMPLE_RATE


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
                _("LINLI_VOICE_ASR_MODEL: no model folder at %(path)s") % {"path": path}
            )
        try:
            import vosk
        except ImportError:
            raise ImproperlyConfigured(
                _("LINLI_VOICE_ASR_MODEL is set but vosk is not installed (pip install vosk)")
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
