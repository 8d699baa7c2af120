"""The in-band DTMF detector on generated audio: every key, noise, twist, μ-law, timing, and
the things that must not be taken for a key press."""

import math
import random
import shutil
import subprocess

import pytest

from linli.adapters.media import dtmf, g711
from linli.adapters.telephony.base import DIGITS

RATE = 8000
ESPEAK = shutil.which("espeak-ng")


def ms(n):
    return round(n * RATE / 1000)


def silence(duration_ms):
    return [0.0] * ms(duration_ms)


def keyed(keys, *, on=80, off=80, lead=37, twist_db=0.0, amplitude=7000.0):
    """Keys as float samples with an odd lead-in so frames never line up with tones."""
    out = silence(lead)
    for i, key in enumerate(keys):
        out += dtmf.tone(key, on, twist_db=twist_db, amplitude=amplitude, phase=0.7 * i)
        out += silence(off)
    return out


def with_noise(samples, snr_db, rng, *, amplitude=7000.0):
    """White noise at `snr_db` below the two-tone signal power (amplitude²/2 per tone)."""
    sigma = math.sqrt(amplitude**2 / 10 ** (snr_db / 10))
    return [s + rng.gauss(0, sigma) for s in samples]


def pcm(samples):
    return [max(-32768, min(32767, round(s))) for s in samples]


def test_every_key_is_heard_once():
    assert dtmf.detect(pcm(keyed(DIGITS))) == DIGITS


def test_chunk_sizes_do_not_matter():
    samples = pcm(keyed("159#"))
    rng = random.Random(5)
    detector = dtmf.DtmfDetector()
    heard, pos = [], 0
    while pos < len(samples):
        step = rng.choice([1, 7, 80, 160, 161, 333])
        heard += detector.feed(samples[pos : pos + step])
        pos += step
    heard += detector.feed([0] * 400)
    assert "".join(heard) == "159#"


@pytest.mark.parametrize("snr_db", [20, 15, 10])
def test_keys_are_heard_through_white_noise(snr_db):
    rng = random.Random(snr_db)
    for _ in range(3):
        assert dtmf.detect(pcm(with_noise(keyed(DIGITS), snr_db, rng))) == DIGITS


@pytest.mark.parametrize("twist_db", [-4, 4])
def test_keys_are_heard_with_twist(twist_db):
    rng = random.Random(11)
    samples = with_noise(keyed(DIGITS, twist_db=twist_db), 15, rng)
    assert dtmf.detect(pcm(samples)) == DIGITS


@pytest.mark.parametrize("twist_db", [-14, 14])
def test_excessive_twist_is_not_a_key(twist_db):
    assert dtmf.detect(pcm(keyed("5", twist_db=twist_db))) == ""


def test_keys_survive_the_ulaw_round_trip():
    rng = random.Random(2)
    noisy = with_noise(keyed(DIGITS), 15, rng)
    assert dtmf.detect(g711.ulaw2lin(g711.lin2ulaw(noisy))) == DIGITS


def test_quiet_but_valid_keys_are_heard():
    # −25 dBm0 per tone, the quietest a telephone network must deliver.
    amplitude = 22657 * 10 ** (-25 / 20)
    rng = random.Random(4)
    samples = with_noise(keyed("2580", amplitude=amplitude), 15, rng, amplitude=amplitude)
    assert dtmf.detect(g711.ulaw2lin(g711.lin2ulaw(samples))) == "2580"


def test_a_repeated_key_with_a_short_pause_gives_two_digits():
    rng = random.Random(8)
    samples = keyed("11", on=60, off=40) + keyed("99", on=50, off=45)
    assert dtmf.detect(pcm(samples)) == "1199"
    assert dtmf.detect(pcm(with_noise(samples, 15, rng))) == "1199"


def test_a_held_key_gives_one_digit_even_through_a_10ms_dropout():
    held = dtmf.tone("7", 1500) + silence(10) + dtmf.tone("7", 300)
    assert dtmf.detect(pcm(held)) == "7"


@pytest.mark.parametrize("offset_ms", [0, 3, 5, 8, 11, 14, 17])
def test_a_40ms_tone_is_a_key_whatever_its_alignment(offset_ms):
    samples = silence(50 + offset_ms) + dtmf.tone("6", 40) + silence(60)
    assert dtmf.detect(pcm(samples)) == "6"


def test_50ms_tones_are_heard_through_noise_whatever_their_alignment():
    rng = random.Random(12)
    for offset_ms in range(20):
        samples = silence(50 + offset_ms) + dtmf.tone("6", 50) + silence(60)
        assert dtmf.detect(pcm(with_noise(samples, 15, rng))) == "6", offset_ms


@pytest.mark.parametrize("offset_ms", [0, 3, 5, 8, 11, 14, 17])
@pytest.mark.parametrize("duration_ms", [10, 20])
def test_a_tone_shorter_than_the_minimum_is_not_a_key(offset_ms, duration_ms):
    samples = silence(50 + offset_ms) + dtmf.tone("6", duration_ms) + silence(60)
    assert dtmf.detect(pcm(samples)) == ""


def test_silence_and_line_noise_are_not_keys():
    rng = random.Random(1)
    assert dtmf.detect([0] * RATE) == ""
    assert dtmf.detect(pcm(rng.gauss(0, 3000) for _ in range(RATE))) == ""
    assert dtmf.detect(pcm(rng.gauss(0, 30) for _ in range(RATE))) == ""


@pytest.mark.parametrize("freq", [*dtmf.ROW_FREQS, *dtmf.COL_FREQS, 1000.0, 440.0])
def test_a_single_tone_is_not_a_key(freq):
    samples = [7000 * math.sin(2 * math.pi * freq * n / RATE) for n in range(RATE // 2)]
    assert dtmf.detect(pcm(samples)) == ""


def test_two_tones_off_the_dtmf_grid_are_not_a_key():
    # 1000 Hz sits between the rows and the columns, 1100 Hz between the groups: dial tones,
    # music intervals.
    for low, high in [(1000, 1500), (350, 440), (480, 620), (1100, 1400)]:
        samples = [
            5000 * math.sin(2 * math.pi * low * n / RATE)
            + 5000 * math.sin(2 * math.pi * high * n / RATE)
            for n in range(RATE // 2)
        ]
        assert dtmf.detect(pcm(samples)) == "", (low, high)


def _speech_like(rng, seconds=2.0):
    """A crude voiced-speech stand-in: a glottal pulse train with wandering pitch through
    three formant resonators that glide between vowels, with syllable-rate amplitude."""
    out, phase = [], 0.0
    states = [[0.0, 0.0] for _ in range(3)]
    vowels = [(700, 1220, 2600), (300, 2300, 3000), (500, 900, 2500), (400, 2000, 2550)]
    for n in range(int(seconds * RATE)):
        t = n / RATE
        f0 = 120 + 40 * math.sin(2 * math.pi * 1.3 * t) + 20 * math.sin(2 * math.pi * 4.1 * t)
        phase += f0 / RATE
        pulse = 1.0 if phase >= 1.0 else 0.0
        phase -= pulse
        v = vowels[int(t * 4) % len(vowels)]
        x = pulse * 3000 + rng.gauss(0, 30)
        y_total = 0.0
        for (y1, y2), f, state in zip(states, v, states, strict=True):
            r = math.exp(-math.pi * 80 / RATE)
            c = 2 * r * math.cos(2 * math.pi * f / RATE)
            y = x + c * y1 - r * r * y2
            state[0], state[1] = y, y1
            y_total += y
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * t) ** 2
        out.append(y_total * envelope * 0.3)
    return out


def test_speech_like_sound_is_not_a_key():
    rng = random.Random(9)
    speech = _speech_like(rng)
    assert max(abs(s) for s in speech) > 2000  # loud enough to be tested at all
    assert dtmf.detect(pcm(speech)) == ""


@pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed")
def test_synthesised_speech_is_not_a_key():
    # What the robot itself says (and an echo of it) must never read as a key press.
    texts = [
        "ni3 hao3, zhe4 li3 shi4 chang2 yan2 bao3 she4 qu1, qing3 que4 ren4 nin2 ben3 ren2.",
        "shi4 qing3 an4 yi1, fou3 qing3 an4 er4, chong2 ting1 qing3 an4 jiu3.",
        "Hello, this is your community calling about the health screening.",
    ]
    for text in texts:
        voice = "en" if text.startswith("Hello") else "cmn-latn-pinyin"
        wav = subprocess.run(
            [ESPEAK, "-v", voice, "--stdout", text], capture_output=True, check=True
        ).stdout
        assert dtmf.detect(g711.ulaw2lin(g711.wav_to_ulaw(wav))) == ""


def test_keys_are_heard_over_speech_in_the_background():
    rng = random.Random(10)
    speech = _speech_like(rng, seconds=1.2)
    keys = keyed("37", on=120, off=200)
    mixed = [s * 0.3 + k for s, k in zip(speech, keys + [0.0] * len(speech), strict=False)]
    assert dtmf.detect(pcm(mixed)) == "37"


def test_generated_tone_sequences_round_trip():
    assert dtmf.detect(dtmf.tones("0123456789*#")) == "0123456789*#"
