"""G.711 μ-law and the WAV → 8 kHz μ-law path prompts are synthesised through."""

import io
import math
import random
import shutil
import struct
import subprocess
import wave

import numpy as np
import pytest

from linli.adapters.media import g711

ESPEAK = shutil.which("espeak-ng")


def test_every_code_decodes_and_re_encodes_to_itself():
    for code in range(256):
        again = g711.lin2ulaw([g711.DECODE_TABLE[code]])[0]
        # 0x7F is "negative zero": it decodes to 0, which encodes as 0xFF.
        assert again == code or (code == 0x7F and again == 0xFF)


def test_decoding_is_odd_and_monotonic():
    positive = [g711.DECODE_TABLE[c] for c in range(0xFF, 0x7F, -1)]  # 0xFF is +0 … 0x80 max
    assert positive == sorted(positive)
    assert positive[0] == 0 and positive[-1] == 32124
    for code in range(128):
        assert g711.DECODE_TABLE[code] == -g711.DECODE_TABLE[code | 0x80]


def test_encoding_error_is_a_few_percent_of_the_value():
    rng = random.Random(7)
    for x in [rng.randint(-32768, 32767) for _ in range(20000)] + [-32768, -1, 0, 1, 32767]:
        code = g711.lin2ulaw([x])[0]
        y = g711.DECODE_TABLE[code]
        assert (x >= 0) == (y >= 0) or abs(y) <= 8
        clipped = max(-32124, min(32124, x))
        # μ-law steps (8 on the 16-bit scale, doubling every segment) keep the error within
        # half a step (plus the 2 bits G.711 truncates): a few percent of the value.
        step = 8 << ((~code >> 4) & 7)
        assert abs(y - clipped) <= step // 2 + 4, (x, y)
        assert abs(y - clipped) <= max(12, abs(clipped) * 0.07), (x, y)


def test_pcm16_and_sample_paths_agree():
    rng = random.Random(3)
    samples = [rng.randint(-32768, 32767) for _ in range(5000)]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    encoded = g711.pcm16_to_ulaw(pcm)
    assert encoded == g711.lin2ulaw(samples)
    decoded = g711.ulaw_to_pcm16(encoded)
    assert list(struct.unpack(f"<{len(samples)}h", decoded)) == g711.ulaw2lin(encoded)


def test_out_of_range_and_float_samples_are_clipped_and_rounded():
    assert g711.lin2ulaw([40000, -40000, 0.4, -0.4]) == g711.lin2ulaw([32767, -32768, 0, 0])


def _wav(samples, rate, channels=1):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def _amplitude_at(samples, freq, rate=8000):
    """Amplitude of the component at `freq` (a single-bin DFT)."""
    re = sum(s * math.cos(2 * math.pi * freq * n / rate) for n, s in enumerate(samples))
    im = sum(s * math.sin(2 * math.pi * freq * n / rate) for n, s in enumerate(samples))
    return 2 * math.hypot(re, im) / len(samples)


def _sine(freq, rate, seconds, amplitude=10000):
    return [
        round(amplitude * math.sin(2 * math.pi * freq * n / rate))
        for n in range(int(rate * seconds))
    ]


@pytest.mark.parametrize("rate", [22050, 16000, 44100, 11025])
def test_wav_to_ulaw_keeps_the_voice_band_and_drops_what_would_alias(rate):
    audio = g711.wav_to_ulaw(_wav(_sine(1000, rate, 0.5), rate))
    assert abs(len(audio) - 4000) <= 1  # 0.5 s at 8 kHz, one byte a sample
    samples = g711.ulaw2lin(audio)[400:-400]  # away from the edges
    assert _amplitude_at(samples, 1000) == pytest.approx(10000, rel=0.05)
    # 5.5 kHz would fold onto 2.5 kHz at 8 kHz; the low-pass must remove it.
    aliased = g711.ulaw2lin(g711.wav_to_ulaw(_wav(_sine(5500, rate, 0.5), rate)))[400:-400]
    assert _amplitude_at(aliased, 2500) < 10000 / 100  # at least 40 dB down


def test_wav_at_8khz_and_stereo_are_read():
    mono = g711.wav_to_ulaw(_wav(_sine(440, 8000, 0.1), 8000))
    assert mono == g711.lin2ulaw(_sine(440, 8000, 0.1))
    interleaved = [s for v in _sine(440, 8000, 0.1) for s in (v, v)]
    assert g711.wav_to_ulaw(_wav(interleaved, 8000, channels=2)) == mono


def test_streamed_wav_with_bogus_sizes_is_read_to_the_end():
    good = _wav(_sine(440, 8000, 0.1), 8000)
    # What a writer that cannot seek back emits: 0x7FFFFFFF for the RIFF and data sizes.
    streamed = good[:4] + b"\xff\xff\xff\x7f" + good[8:40] + b"\xff\xff\xff\x7f" + good[44:]
    assert g711.wav_to_ulaw(streamed) == g711.wav_to_ulaw(good)


@pytest.mark.parametrize(
    "data",
    [b"", b"RIFF\x00\x00\x00\x00WAVE", b"not a wav file at all"],
)
def test_garbage_is_refused(data):
    with pytest.raises(ValueError):
        g711.wav_to_ulaw(data)


def test_8_bit_wav_is_refused_clearly():
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 100)
    with pytest.raises(ValueError, match="16-bit"):
        g711.wav_to_ulaw(buf.getvalue())


def test_ulaw_wav_container_round_trips():
    audio = g711.lin2ulaw(_sine(440, 8000, 0.05))
    wav = g711.ulaw_to_wav(audio)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert wav.endswith(audio)


@pytest.mark.skipif(ESPEAK is None, reason="espeak-ng not installed")
def test_espeak_ng_output_becomes_8khz_ulaw():
    wav = subprocess.run(
        [ESPEAK, "-v", "cmn-latn-pinyin", "--stdout", "ni3 hao3"],
        capture_output=True,
        check=True,
    ).stdout
    samples, rate = g711.read_wav(wav)
    audio = g711.wav_to_ulaw(wav)
    assert abs(len(audio) - len(samples) * 8000 / rate) <= 1
    assert any(abs(s) > 1000 for s in g711.ulaw2lin(audio))  # it says something


def test_alaw_decoding_is_odd_monotonic_and_spans_the_range():
    values = g711.ALAW_DECODE_TABLE
    assert sorted(values) == sorted(-v for v in values)
    positive = sorted(v for v in values if v > 0)
    assert positive[0] == 8 and positive[-1] == 32256
    assert len(set(values)) == 256  # A-law has no duplicate zero: every code is distinct
    assert g711.alaw2lin(bytes([0xD5, 0x55])) == [8, -8]


@pytest.mark.parametrize("rate", [22050, 44100, 16000, 22051])
def test_resampling_is_the_interpolation_formula_at_every_output_sample(rate):
    # The array code (one strided product per phase, or gathered windows when the rates share
    # no small period) against the formula written out sample by sample.
    rng = random.Random(rate)
    samples = [rng.randint(-20000, 20000) for _ in range(3000)]
    half, table = g711._kernel_table(rate, 8000)
    padded = [0] * half + samples + [0] * (half + 1)
    expected = []
    for j in range(len(samples) * 8000 // rate):
        i, phase = j * rate // 8000, (j * rate % 8000) * g711._PHASES // 8000
        value = sum(float(t) * s for t, s in zip(table[phase], padded[i + 1 :], strict=False))
        expected.append(max(-32768, min(32767, round(value))))
    got = g711.resample(samples, rate, 8000)
    assert len(got) == len(expected)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 1
    assert g711.array_to_ulaw(np.array(got)) == g711.lin2ulaw(got)


def test_wav_arrays_read_like_lists():
    mono = _sine(440, 22050, 0.05)
    samples, rate = g711.read_wav_array(_wav(mono, 22050))
    assert rate == 22050 and samples.tolist() == g711.read_wav(_wav(mono, 22050))[0]
    stereo = _wav([s for v in mono for s in (v, -v // 3)], 22050, channels=2)
    assert g711.read_wav_array(stereo)[0].tolist() == g711.read_wav(stereo)[0]
