"""G.711 μ-law (PCMU) in pure Python, and WAV → 8 kHz μ-law for synthesised prompts.

The codec is table-driven: a 256-entry decode table and a 65536-entry encode table (indexed by
the 16-bit sample's two's-complement bit pattern) are built once at import, so encoding and
decoding run inside `bytes.translate`/`map` at C speed rather than sample by sample in Python.
The tables follow the ITU-T G.711 / Sun g711.c reference (14-bit magnitude, bias 33, clip 8159),
so our bytes interoperate with every PCMU endpoint.

`audioop` is deliberately not used: it is deprecated and gone in Python 3.13.
"""

import math
import operator
import struct
from array import array
from collections.abc import Iterable, Sequence
from functools import lru_cache

from linli.adapters.telephony.base import SAMPLE_RATE

SILENCE = 0xFF  # μ-law encoding of 0: what a silent frame is filled with

_BIAS = 0x84  # 132 on the 16-bit scale (33 on the 14-bit one)
_CLIP = 8159  # largest 14-bit magnitude μ-law represents


def _decode_byte(u: int) -> int:
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + _BIAS
    t <<= (u & 0x70) >> 4
    return (_BIAS - t) if u & 0x80 else (t - _BIAS)


def _encode_14bit(v: int) -> int:
    """Encodes one 14-bit sample (the 16-bit one shifted right by 2)."""
    if v < 0:
        v, mask = -v, 0x7F
    else:
        mask = 0xFF
    v = min(v, _CLIP) + 0x21
    segment = 0
    # The segment is the first whose upper end (0x3F, 0x7F, ... 0x1FFF) is not below v.
    while segment < 8 and v > (0x40 << segment) - 1:
        segment += 1
    if segment >= 8:
        return 0x7F ^ mask
    mantissa = (v >> (segment + 1)) & 0x0F
    return ((segment << 4) | mantissa) ^ mask


def _decode_alaw_byte(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    if segment == 0:
        t += 8
    else:
        t = (t + 0x108) << (segment - 1)
    return t if a & 0x80 else -t


DECODE_TABLE: tuple[int, ...] = tuple(_decode_byte(u) for u in range(256))
# G.711 A-law (PCMA) is only ever decoded: some peers send it whatever was negotiated (SIPp's
# bundled g711a.pcap does), and in-band keys in it must still be heard.
ALAW_DECODE_TABLE: tuple[int, ...] = tuple(_decode_alaw_byte(a) for a in range(256))
_ENCODE_14 = [_encode_14bit(v - 0x4000 if v & 0x2000 else v) for v in range(0x4000)]
# Indexed by the unsigned 16-bit pattern u: the arithmetic shift x >> 2 of the signed sample
# equals u >> 2 read as a 14-bit two's-complement number.
ENCODE_TABLE: bytes = bytes(_ENCODE_14[u >> 2] for u in range(0x10000))
del _ENCODE_14

# Decoding to little-endian 16-bit bytes: one translate for the low bytes, one for the high.
_DECODE_LO = bytes(v & 0xFF for v in DECODE_TABLE)
_DECODE_HI = bytes((v >> 8) & 0xFF for v in DECODE_TABLE)


def lin2ulaw(samples: Iterable[int]) -> bytes:
    """Encodes signed 16-bit linear samples (out-of-range values are clipped) to μ-law."""
    table = ENCODE_TABLE
    return bytes(table[max(-32768, min(32767, round(s))) & 0xFFFF] for s in samples)


def ulaw2lin(data: bytes) -> list[int]:
    """Decodes μ-law bytes to signed 16-bit linear samples."""
    return list(map(DECODE_TABLE.__getitem__, data))


def alaw2lin(data: bytes) -> list[int]:
    """Decodes A-law bytes to signed 16-bit linear samples."""
    return list(map(ALAW_DECODE_TABLE.__getitem__, data))


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encodes little-endian signed 16-bit PCM bytes to μ-law (the fast path: no clipping needed,
    every 16-bit pattern is a table index)."""
    if len(pcm) % 2:
        raise ValueError("16-bit PCM must have an even number of bytes")
    samples = array("H")
    samples.frombytes(pcm)
    if samples.itemsize != 2:  # pragma: no cover - no platform we run on
        raise RuntimeError("array('H') is not 16-bit here")
    if struct.pack("=H", 1) != b"\x01\x00":  # pragma: no cover - big-endian host
        samples.byteswap()
    return bytes(map(ENCODE_TABLE.__getitem__, samples))


def ulaw_to_pcm16(data: bytes) -> bytes:
    """Decodes μ-law bytes to little-endian signed 16-bit PCM bytes."""
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(_DECODE_LO)
    out[1::2] = data.translate(_DECODE_HI)
    return bytes(out)


# --- WAV ---------------------------------------------------------------------------------------


def read_wav(wav_bytes: bytes) -> tuple[list[int], int]:
    """Reads a 16-bit PCM WAV (mono, or stereo mixed down) into (samples, sample rate).

    Tolerates the bogus chunk sizes a streaming writer puts in the header (espeak-ng --stdout
    writes 0x7FFFFFFF as the data size): a chunk is cut at the end of the bytes given."""
    if len(wav_bytes) < 12 or wav_bytes[:4] != b"RIFF" or wav_bytes[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(wav_bytes):
        chunk_id = wav_bytes[pos : pos + 4]
        (size,) = struct.unpack_from("<I", wav_bytes, pos + 4)
        body = wav_bytes[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            data = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or data is None or len(fmt) < 16:
        raise ValueError("WAV without fmt/data chunks")
    audio_format, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", fmt)
    if audio_format == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag follows
        (audio_format,) = struct.unpack_from("<H", fmt, 24)
    if audio_format != 1 or bits != 16 or channels not in (1, 2):
        raise ValueError(
            f"unsupported WAV: format {audio_format}, {bits} bits, {channels} channels "
            "(16-bit PCM mono or stereo expected)"
        )
    data = data[: len(data) - len(data) % (2 * channels)]
    samples = array("h")
    samples.frombytes(data)
    if struct.pack("=H", 1) != b"\x01\x00":  # pragma: no cover - big-endian host
        samples.byteswap()
    if channels == 2:
        return [(a + b) // 2 for a, b in zip(samples[0::2], samples[1::2], strict=True)], rate
    return samples.tolist(), rate


def ulaw_to_wav(data: bytes) -> bytes:
    """Wraps 8 kHz μ-law bytes in a WAV container (format 7) that any player opens, for
    recordings and for listening to a synthesised prompt."""
    fmt = struct.pack("<HHIIHHH", 7, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", 4)
        + fact
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + (b"\x00" if len(data) & 1 else b"")
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- resampling --------------------------------------------------------------------------------

_PHASES = 128  # fractional positions the interpolation kernel is tabulated at
_ZERO_CROSSINGS = 8  # kernel half-width, in zero crossings of the low-pass sinc


@lru_cache(maxsize=8)
def _kernel_table(src_rate: int, dst_rate: int) -> tuple[int, tuple[tuple[float, ...], ...]]:
    """Polyphase windowed-sinc kernels: for each of _PHASES fractional offsets, the taps that
    interpolate at that offset while low-passing below the lower Nyquist frequency (with a
    margin, so 8 kHz output keeps the telephone band up to ~3.6 kHz and aliases nothing)."""
    cutoff = 0.9 * min(src_rate, dst_rate) / 2 / src_rate  # cycles per input sample
    half = math.ceil(_ZERO_CROSSINGS / (2 * cutoff))  # taps each side
    table = []
    for p in range(_PHASES):
        frac = p / _PHASES
        taps = []
        for k in range(-half + 1, half + 1):
            t = k - frac  # distance of input sample (i + k) from the output point (i + frac)
            x = 2 * cutoff * t
            sinc = 1.0 if x == 0 else math.sin(math.pi * x) / (math.pi * x)
            # Blackman window over [-half, half]
            w = t / half
            window = 0.42 + 0.5 * math.cos(math.pi * w) + 0.08 * math.cos(2 * math.pi * w)
            taps.append(2 * cutoff * sinc * (window if abs(w) < 1 else 0.0))
        gain = sum(taps)
        table.append(tuple(tap / gain for tap in taps))  # unity gain at DC for every phase
    return half, tuple(table)


def resample(samples: Sequence[int], src_rate: int, dst_rate: int = SAMPLE_RATE) -> list[int]:
    """Band-limited resampling of 16-bit samples (a polyphase windowed-sinc interpolator):
    good enough for speech prompts, pure Python and ~50k output samples per second of CPU."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    if src_rate == dst_rate or not samples:
        return list(samples)
    half, table = _kernel_table(src_rate, dst_rate)
    padded = [0] * half + list(samples) + [0] * (half + 1)
    n_out = (len(samples) * dst_rate) // src_rate
    step = src_rate / dst_rate
    out = []
    append = out.append
    mul = operator.mul
    for j in range(n_out):
        pos = j * step
        i = int(pos)
        taps = table[int((pos - i) * _PHASES)]
        # Input samples i-half+1 .. i+half sit at padded[i+1 .. i+2*half].
        v = sum(map(mul, padded[i + 1 : i + 1 + 2 * half], taps))
        append(32767 if v > 32767 else -32768 if v < -32768 else round(v))
    return out


def wav_to_ulaw(wav_bytes: bytes) -> bytes:
    """A 16-bit WAV at any rate (espeak-ng writes 22050 Hz) → 8 kHz μ-law bytes."""
    samples, rate = read_wav(wav_bytes)
    return lin2ulaw(resample(samples, rate, SAMPLE_RATE))
