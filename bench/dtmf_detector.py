"""How fast the pure-Python in-band DTMF detector (linli.adapters.media.dtmf) runs.

Run from the repository root:

    .venv/bin/python bench/dtmf_detector.py [--seconds 0.5]

Prints how many 20 ms frames per CPU-second the detector gets through, for keypad audio (every
frame analysed in full: the twelve keys with white noise 15 dB below the tones) and for a
quiet line (the energy gate skips the analysis), and what that means in calls per core (a
call is 50 frames a second). A measurement, not a test: nothing is asserted.
"""

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linli.adapters.media import dtmf, g711
from linli.adapters.telephony.base import DIGITS, SAMPLE_RATE

AMPLITUDE = 7000.0


def keypad_audio(rng: random.Random, *, snr_db: float = 15.0) -> bytes:
    """Every key (80 ms on, 80 ms off) with white noise `snr_db` below the two-tone signal."""
    samples: list[float] = []
    for i, key in enumerate(DIGITS):
        samples += dtmf.tone(key, 80, amplitude=AMPLITUDE, phase=0.7 * i)
        samples += [0.0] * (SAMPLE_RATE * 80 // 1000)
    sigma = math.sqrt(AMPLITUDE**2 / 10 ** (snr_db / 10))
    noisy = [s + rng.gauss(0, sigma) for s in samples]
    return g711.lin2ulaw([max(-32768, min(32767, round(s))) for s in noisy])


def frames_per_second(audio: bytes, seconds: float) -> float:
    """Feeds the audio frame by frame to one detector for `seconds` of CPU time; returns the
    frames per CPU-second."""
    frames = [audio[i : i + 160] for i in range(0, len(audio) - 159, 160)]
    detector = dtmf.DtmfDetector()
    count, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for frame in frames:
            detector.feed(g711.ulaw2lin(frame))
        count += len(frames)
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="CPU seconds per case")
    args = parser.parse_args()
    rng = random.Random(0)
    results = {
        "keypad audio": frames_per_second(keypad_audio(rng), args.seconds),
        "quiet line": frames_per_second(
            g711.lin2ulaw([round(rng.gauss(0, 25)) for _ in range(SAMPLE_RATE * 2)]), args.seconds
        ),
    }
    print(
        "in-band DTMF detector: "
        + ", ".join(f"{name} {rate:,.0f} frames/s" for name, rate in results.items())
        + f" (one call = 50 frames/s: {results['keypad audio'] / 50:,.0f} calls of "
        f"continuous tones/speech, {results['quiet line'] / 50:,.0f} quiet calls per core)"
    )


if __name__ == "__main__":
    main()
