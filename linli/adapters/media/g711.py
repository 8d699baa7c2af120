"""G.711 μ-law (PCMU) in pure Python, and WAV → 8 kHz μ-law for synthesised prompts.

The codec is table-driven: a 256-entry decode table and a 65536-entry encode table (indexed by
the 16-bit sample's two's-complement bit pattern) are built once at import, so encoding and
decoding run inside `bytes.translate`/`map` at C speed rather than sample by sample in Python.
The tables follow the ITU-T G.711 / Sun g711.c reference (14-bit magnitude, bias 33, clip 8159),
so our bytes interoperate with every PCMU endpoint.

`audioop` is deliberately not used: it is deprecated and gone in Python 3.13. Resampling a
synthesised prompt (espeak-ng's 22.05 kHz → 8 kHz) is array work in numpy: a per-sample Python
loop took ~100 ms of CPU per prompt, holding the GIL of the dialer's event loop.
"""

import math
import struct
from array import array
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

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

    Tolerates the bogus chunk sizes a streaming writer puts in the header (see _wav_pcm)."""
    samples, channels, rate = _wav_pcm(wav_bytes)
    if channels == 2:
        return [(a + b) // 2 for a, b in zip(samples[0::2], samples[1::2], strict=True)], rate
    return samples.tolist(), rate


def read_wav_array(wav_bytes: bytes) -> tuple[np.ndarray, int]:
    """read_wav() as an int16 array, without a Python list in between."""
    samples, channels, rate = _wav_pcm(wav_bytes)
    data = np.frombuffer(samples, dtype=np.int16)
    if channels == 2:
        # Floor of the mean, as read_wav does.
        data = ((data[0::2].astype(np.int32) + data[1::2]) // 2).astype(np.int16)
    return data, rate


def _wav_pcm(wav_bytes: bytes) -> tuple[array, int, int]:
    """The 16-bit samples of a PCM WAV (interleaved), its channels and rate.

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
    return samples, channels, rate


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


# Output samples computed per block: bounds the (block × taps) window matrix of a long prompt.
_BLOCK = 8192
# Phases looped over at most (one matrix-vector product each) before gathering instead.
_MAX_PERIOD = 2000


@lru_cache(maxsize=8)
def _kernel_table(src_rate: int, dst_rate: int) -> tuple[int, np.ndarray]:
    """Polyphase windowed-sinc kernels: for each of _PHASES fractional offsets, the taps that
    interpolate at that offset while low-passing below the lower Nyquist frequency (with a
    margin, so 8 kHz output keeps the telephone band up to ~3.6 kHz and aliases nothing).
    Returns (taps each side, a read-only _PHASES × 2·half array)."""
    cutoff = 0.9 * min(src_rate, dst_rate) / 2 / src_rate  # cycles per input sample
    half = math.ceil(_ZERO_CROSSINGS / (2 * cutoff))  # taps each side
    k = np.arange(-half + 1, half + 1, dtype=np.float64)
    frac = np.arange(_PHASES, dtype=np.float64)[:, None] / _PHASES
    t = k[None, :] - frac  # distance of input sample (i + k) from the output point (i + frac)
    taps = 2 * cutoff * np.sinc(2 * cutoff * t)
    w = t / half  # Blackman window over [-half, half]
    window = 0.42 + 0.5 * np.cos(np.pi * w) + 0.08 * np.cos(2 * np.pi * w)
    taps *= np.where(np.abs(w) < 1, window, 0.0)
    taps /= taps.sum(axis=1, keepdims=True)  # unity gain at DC for every phase
    taps.setflags(write=False)
    return half, taps


def resample_array(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (a polyphase windowed-sinc interpolator) of 16-bit samples as an
    array; returns int16 samples, clipped.

    Output sample j sits at input position j·src/dst. With g = gcd(src, dst) the positions repeat
    their fractional part every dst/g outputs, moving on src/g inputs: each of those dst/g
    phases is one matrix-vector product over a strided view of the input (22.05 → 8 kHz: 160
    products), nothing gathered or copied."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    samples = np.asarray(samples, dtype=np.float64)
    if src_rate == dst_rate or not samples.size:
        return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    half, table = _kernel_table(src_rate, dst_rate)
    padded = np.concatenate([np.zeros(half), samples, np.zeros(half + 1)])
    # Input samples i-half+1 .. i+half sit at padded[i+1 .. i+2*half]: row i+1 of `windows`.
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half)
    n_out = (samples.size * dst_rate) // src_rate
    g = math.gcd(src_rate, dst_rate)
    period, advance = dst_rate // g, src_rate // g
    out = np.empty(n_out, dtype=np.float64)
    if period <= _MAX_PERIOD:
        for r in range(min(period, n_out)):
            first = r * src_rate // dst_rate
            phase = (r * src_rate % dst_rate) * _PHASES // dst_rate
            count = len(range(r, n_out, period))
            rows = windows[first + 1 : first + 2 + advance * (count - 1) : advance]
            out[r::period] = rows @ table[phase]
    else:  # rates with no small common period: gather the windows, a block at a time
        for start in range(0, n_out, _BLOCK):
            j = np.arange(start, min(n_out, start + _BLOCK), dtype=np.int64) * src_rate
            i, phase = j // dst_rate, (j % dst_rate) * _PHASES // dst_rate
            out[start : start + i.size] = np.einsum("ij,ij->i", windows[i + 1], table[phase])
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def resample(samples: Sequence[int], src_rate: int, dst_rate: int = SAMPLE_RATE) -> list[int]:
    """Band-limited resampling of 16-bit samples (see resample_array), as a list."""
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    if src_rate == dst_rate or not len(samples):
        return list(samples)
    return resample_array(np.asarray(samples), src_rate, dst_rate).tolist()


def array_to_ulaw(samples: np.ndarray) -> bytes:
    """Encodes signed 16-bit samples (an array; out-of-range values clipped) to μ-law."""
    clipped = np.clip(np.rint(np.asarray(samples, dtype=np.float64)), -32768, 32767)
    return _ENCODE_ARRAY[clipped.astype(np.int16).view(np.uint16)].tobytes()


_ENCODE_ARRAY = np.frombuffer(ENCODE_TABLE, dtype=np.uint8)


def wav_to_ulaw(wav_bytes: bytes) -> bytes:
    """A 16-bit WAV at any rate (espeak-ng writes 22050 Hz) → 8 kHz μ-law bytes."""
    samples, rate = read_wav_array(wav_bytes)
    return array_to_ulaw(resample_array(samples, rate, SAMPLE_RATE))
