"""espeak-ng, the local default speech engine: Debian ships it and it works offline.

Its Mandarin voice reads Chinese characters poorly, so the text is first made speakable and
turned into pinyin with tone numbers (linli.adapters.tts.speakable) for the `cmn-latn-pinyin`
voice. espeak-ng's 22.05 kHz WAV is levelled and converted to 8 kHz μ-law with the media
codec (linli.adapters.media.g711), as numpy arrays: a few milliseconds of CPU a prompt besides
espeak-ng's own.
"""

import shutil
import subprocess

import numpy as np

from linli.adapters.media import g711
from linli.adapters.telephony.base import SAMPLE_RATE
from linli.adapters.tts.base import TTS, TTSError
from linli.adapters.tts.speakable import to_pinyin


def normalise(samples: np.ndarray, peak: float = 0.7, max_gain: float = 4.0) -> np.ndarray:
    """Scales the samples so their peak reaches `peak` of full scale: espeak speaks softly,
    and a prompt on the phone should sit at a steady, clear level. Returns int16 samples
    (truncated towards zero)."""
    samples = np.asarray(samples)
    top = int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0
    if not top:
        return samples.astype(np.int16)
    gain = min(max_gain, peak * 32767 / top)
    return np.trunc(samples * gain).astype(np.int16)


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
            samples, rate = g711.read_wav_array(done.stdout)
        except ValueError as exc:
            raise TTSError(f"{self.binary} wrote no usable WAV: {exc}") from exc
        return g711.array_to_ulaw(g711.resample_array(normalise(samples), rate, SAMPLE_RATE))
