"""In-band DTMF: a Goertzel-style detector over 8 kHz linear audio, and a tone generator.

Carriers that strip RFC 4733 telephone-events leave the keypad tones in the audio, so the robot
listens to the audio too. The detector correlates the signal with the eight DTMF frequencies
(697/770/852/941 Hz rows, 1209/1336/1477/1633 Hz columns), which is what a Goertzel filter
computes, but as C-level dot products (`sum(map(mul, …))`) instead of a Python loop per sample.

Correlations are taken over 10 ms half-blocks and combined pairwise into 20 ms windows
(a phase rotation joins two halves exactly), so every 10 ms we judge a 20 ms window — the
frequency resolution of 20 ms at the time resolution of 10 ms, for the cost of one 20 ms
analysis per 20 ms of audio. A window is a *hit* for a key when:

- each of its two tones is loud enough (≈ −40 dBm0 or more),
- the two tones are within `max_twist_db` of each other (a single tone, or speech with one
  strong harmonic, fails here),
- in each group the strongest frequency beats the others by `min_peak_ratio_db` (a chord or a
  vowel spreads its energy),
- the two tones hold at least `min_tone_fraction` of the window's energy (speech, music and
  noise are broadband; a tone covering only part of the window also fails here).

A *run* of hits for the same key gives one digit once it contains `min_windows` windows at
≥ 70 % of the run's strongest amplitude (windows mostly covered by the tone: ≥ 40 ms of tone),
and ends after `gap_windows` misses (≈ 30–40 ms of quiet), so holding a key gives one digit,
a 10 ms drop-out inside a tone gives no second one, and "11" with a short pause gives two.
"""

import cmath
import math
import operator
from collections.abc import Iterable

from linli.adapters.telephony.base import SAMPLE_RATE

ROW_FREQS = (697.0, 770.0, 852.0, 941.0)
COL_FREQS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")  # KEYS[row][col]
TONES = {KEYS[r][c]: (ROW_FREQS[r], COL_FREQS[c]) for r in range(4) for c in range(4)}

HALF = SAMPLE_RATE // 100  # 80 samples = 10 ms
WINDOW = 2 * HALF


def _db(ratio_db: float) -> float:
    """A power ratio from decibels."""
    return 10 ** (ratio_db / 10)


class _Half:
    """A 10 ms half-block and its (lazily computed) correlations: [rows, columns]."""

    __slots__ = ("corr", "energy", "loud", "samples")

    def __init__(self, samples: list[int], energy: float, loud: bool) -> None:
        self.samples = samples
        self.energy = energy
        self.loud = loud  # above the gate: worth correlating
        self.corr: list[list[complex] | None] = [None, None]


class DtmfDetector:
    """Streaming DTMF detector: feed it 8 kHz 16-bit samples in chunks of any size (one RTP
    packet's worth, say); it returns the keys recognised, each press once."""

    def __init__(
        self,
        *,
        min_amplitude: float = 220.0,  # per tone, 16-bit peak scale: ≈ −40 dBm0
        max_twist_db: float = 8.0,
        min_peak_ratio_db: float = 8.0,
        min_tone_fraction: float = 0.75,
        min_windows: int = 3,
        gap_windows: int = 3,
    ) -> None:
        self.min_amplitude = min_amplitude
        self.max_twist = _db(max_twist_db)
        self.min_peak_ratio = _db(min_peak_ratio_db)
        self.min_tone_fraction = min_tone_fraction
        self.min_windows = min_windows
        self.gap_windows = gap_windows
        freqs = ROW_FREQS + COL_FREQS
        self._basis = [
            [cmath.exp(-2j * math.pi * f * n / SAMPLE_RATE) for n in range(HALF)] for f in freqs
        ]
        # The second half's correlation, taken from its own start, is rotated by this to be
        # relative to the window start.
        self._rotation = [cmath.exp(-2j * math.pi * f * HALF / SAMPLE_RATE) for f in freqs]
        # Halves quieter than this (an eighth of the weakest acceptable tone, in energy) skip
        # the correlations: the common case of a listening callee costs one dot product.
        self._gate_energy = HALF * (min_amplitude / 4) ** 2 / 2
        self._min_power = (min_amplitude * WINDOW / 2) ** 2
        self._min_row_fraction = min_tone_fraction / (1 + self.max_twist)
        self.reset()

    def reset(self) -> None:
        """Forgets buffered audio and any tone in progress."""
        self._pending: list[int] = []
        self._prev: _Half | None = None
        self._run_key: str | None = None
        self._run_amplitudes: list[float] = []
        self._run_emitted = False
        self._misses = 0

    def hold(self) -> None:
        """Treats a tone in progress as already reported: the rest of a key held now gives no
        digit (the call was answered while it sounded), the next press does."""
        if self._run_key is not None:
            self._run_emitted = True

    def feed(self, samples: Iterable[int]) -> list[str]:
        """Adds samples; returns the keys whose press was recognised within them."""
        pending = self._pending
        pending.extend(samples)
        keys: list[str] = []
        start = 0
        while len(pending) - start >= HALF:
            key = self._half(pending[start : start + HALF])
            if key:
                keys.append(key)
            start += HALF
        del pending[:start]
        return keys

    def _half(self, half: list[int]) -> str | None:
        energy = float(sum(map(operator.mul, half, half)))
        # Correlations are computed lazily, rows first: most speech fails on the rows alone.
        current = _Half(half, energy, energy >= self._gate_energy)
        prev, self._prev = self._prev, current
        if prev is None or not (prev.loud or current.loud):
            return self._miss()
        total = prev.energy + energy
        rows = self._window_power(prev, current, 0)
        row = max(range(4), key=rows.__getitem__)
        row_p = rows[row]
        min_p = self._min_power
        # Even at the largest twist, a key's row tone holds this much of the window's energy.
        if row_p < min_p or 2 * row_p / WINDOW < self._min_row_fraction * total:
            return self._miss()
        threshold = row_p / self.min_peak_ratio
        if any(p > threshold for i, p in enumerate(rows) if i != row):
            return self._miss()
        cols = self._window_power(prev, current, 4)
        col = max(range(4), key=cols.__getitem__)
        col_p = cols[col]
        if col_p < min_p:
            return self._miss()
        if row_p > col_p * self.max_twist or col_p > row_p * self.max_twist:
            return self._miss()
        threshold = col_p / self.min_peak_ratio
        if any(p > threshold for i, p in enumerate(cols) if i != col):
            return self._miss()
        # A sine of amplitude A holds A²·N/2 energy over N samples, and |X|² = (A·N/2)².
        if 2 * (row_p + col_p) / WINDOW < self.min_tone_fraction * total:
            return self._miss()
        return self._hit(KEYS[row][col], math.sqrt(row_p + col_p))

    def _window_power(self, first: "_Half", second: "_Half", group: int) -> list[float]:
        """|X|² over the 20 ms window for the 4 frequencies of a group (0 rows, 4 columns):
        (amplitude · WINDOW / 2)² for a matched sine."""
        a = self._correlations(first, group)
        b = self._correlations(second, group)
        rotation = self._rotation[group : group + 4]
        if a is None:
            a = [0j] * 4
        if b is None:
            return [abs(x) ** 2 for x in a]
        return [abs(x + y * r) ** 2 for x, y, r in zip(a, b, rotation, strict=True)]

    def _correlations(self, half: "_Half", group: int) -> list[complex] | None:
        if not half.loud:
            return None
        cached = half.corr[group // 4]
        if cached is None:
            samples, mul = half.samples, operator.mul
            cached = [sum(map(mul, samples, basis)) for basis in self._basis[group : group + 4]]
            half.corr[group // 4] = cached
        return cached

    def _hit(self, key: str, amplitude: float) -> str | None:
        self._misses = 0
        if key != self._run_key:
            self._run_key, self._run_amplitudes, self._run_emitted = key, [], False
        if self._run_emitted:
            return None  # a held key: already reported
        self._run_amplitudes.append(amplitude)
        floor = 0.7 * max(self._run_amplitudes)
        if sum(1 for a in self._run_amplitudes if a >= floor) >= self.min_windows:
            self._run_emitted = True
            return key
        return None

    def _miss(self) -> None:
        self._misses += 1
        if self._misses >= self.gap_windows:
            self._run_key, self._run_amplitudes, self._run_emitted = None, [], False
        return None


def detect(samples: Iterable[int], **options: float) -> str:
    """All the keys pressed in a recording of 8 kHz samples (a convenience for tests/tools)."""
    detector = DtmfDetector(**options)
    keys = detector.feed(samples)
    keys += detector.feed([0] * (2 * WINDOW))  # flush the last half-block
    return "".join(keys)


def tone(
    key: str,
    ms: float,
    *,
    amplitude: float = 7000.0,
    twist_db: float = 0.0,
    phase: float = 0.0,
) -> list[float]:
    """One keypad tone as float samples: `amplitude` per tone (7000 ≈ −10 dBm0), the column
    tone `twist_db` louder than the row tone (negative: quieter)."""
    low, high = TONES[key]
    n = round(ms * SAMPLE_RATE / 1000)
    a_low = amplitude
    a_high = amplitude * 10 ** (twist_db / 20)
    w_low = 2 * math.pi * low / SAMPLE_RATE
    w_high = 2 * math.pi * high / SAMPLE_RATE
    return [
        a_low * math.sin(w_low * i + phase) + a_high * math.sin(w_high * i + 1.3 * phase)
        for i in range(n)
    ]


def tones(
    keys: str, *, on_ms: float = 100.0, off_ms: float = 100.0, amplitude: float = 7000.0
) -> list[int]:
    """A key sequence as 16-bit samples: each key `on_ms` long followed by `off_ms` of
    silence (the in-band way a phone sends digits)."""
    out: list[int] = []
    silence = [0] * round(off_ms * SAMPLE_RATE / 1000)
    for key in keys:
        out.extend(round(s) for s in tone(key, on_ms, amplitude=amplitude))
        out.extend(silence)
    return out
