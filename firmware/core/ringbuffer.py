"""A bounded byte ring between an audio thread and pjsua's clock thread.

One side writes S16LE mono 8 kHz audio as it comes from the line (modem PCM
port, sound card), the other reads one 20 ms frame per pjsua clock tick
(or, in the other direction, a sound card reads what pjsua wrote). The two
sides run on different clocks that differ by up to a few hundred ppm.

With ``target_ms`` set the ring corrects that drift itself. It averages
its fill at each read (~0.5 s); when the average strays from the target by
more than a dead band it slips single samples, dropping or repeating one,
spread over the last 16 samples of the frame being read (a short linear
stretch: the waveform has no step), until the average is back near the
target. The slip rate grows with the error and is capped, so corrections
stay inaudible; matched clocks need none. Hard bounds stay the last
resort: a read that finds too little audio is padded with silence (an
underrun) and the ring refills to the target before playing again; a write
that would overfill it drops the oldest audio (an overrun) down to the
target. Without ``target_ms`` it is a plain bounded FIFO: underruns are
padded, overruns drop the oldest audio beyond ``max_ms``. An overrun is
counted only while a reader is there (a read in the last READER_GONE_S):
pjsua's bridge stops reading a port nobody listens to (a line caller in
the menu), and the audio it did not want is not a fault.

The target adapts to the host, like an adaptive jitter buffer: each
underrun while playing means one side was late by more than the fill
could cover, so the target grows by ADAPT_STEP_MS (up to two frames
below ``max_ms``, room left for a late writer's catch-up burst). After
ADAPT_CALM_S without an underrun it shrinks a step back towards the
configured target, if the lowest fill seen in that time shows a step less
would still not have run dry; the drift correction then slips the fill
down to it. On a quiet box the target never moves; on a busy one a call
settles at the latency the load needs instead of clicking all along.
Underruns in the first ADAPT_SETTLE_S after ``clear()`` (a call's start,
where the two streams begin at different moments) are counted but do not
move the target, and ``clear()`` returns it to the configured one.

Choosing the target: the fill seen by a read swings by one writer block,
plus the jitter of both sides, and where in that swing play starts is
chance (so the first seconds of a call may slip up to half a block away).
The target must cover a read block + a writer block + jitter: 40 ms for
20 ms blocks both sides, 50 ms for a sound card's 21 ms periods with a few
ms of jitter (``firmware.hw.soundcard.RING_TARGET_MS``).

``gain_db`` (or the linear ``gain``) scales what is written, with clipping,
through a 64 Ki-entry lookup table: ~0.1 µs a sample, nothing at 0 dB.

Thread-safety: one lock guards the buffer and the counters; both sides may
be on different threads. No pjsua2 here.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from array import array

FRAME_BYTES = 320          # 20 ms of S16LE mono at 8 kHz
BYTES_PER_MS = 16          # 8 samples of 2 bytes

# Drift control. The fill is averaged over ~0.5 s, so the ripple of
# mismatched block sizes (a card's 21.3 ms against pjsua's 20 ms) averages
# out. Beyond the dead band the ring slips at 500 ppm per ms of error (at
# least 1000 ppm, at most 5000 ppm: one sample per 25 ms) until the average
# is back within SETTLED_MS. Matched clocks then need no slips at all;
# 500 ppm of drift gives a run of slips every few seconds; drift beyond
# 1500 ppm slips continuously, ~drift/500 ms off the target.
AVERAGE_SAMPLES = 4000
DEAD_BAND_MS = 3.0
SETTLED_MS = 1.0
SLIP_PER_MS = 5e-4
MIN_SLIP = 1e-3
MAX_SLIP = 5e-3
SLIP_SAMPLES = 16          # one sample is dropped/added across this many

# Adaptation: +10 ms per underrun, -10 ms per 20 s of calm reads (at 20 ms
# a read), never below the configured target nor within two frames of the brim.
ADAPT_STEP_MS = 10
ADAPT_CALM_S = 20.0
ADAPT_SETTLE_S = 1.0

# A reader that has not read for this long is gone, not slow.
READER_GONE_S = 0.2

_BIG_ENDIAN = sys.byteorder == "big"
# The same in bytes, worked out once rather than at every 20 ms read.
_STEP_BYTES = int(ADAPT_STEP_MS * BYTES_PER_MS)
_CALM_BYTES = int(ADAPT_CALM_S * 1000 * BYTES_PER_MS)
_SETTLE_BYTES = int(ADAPT_SETTLE_S * 1000 * BYTES_PER_MS)


def _samples(data: bytes) -> array:
    pcm = array("h")
    pcm.frombytes(data)
    if _BIG_ENDIAN:
        pcm.byteswap()
    return pcm


def _pcm_bytes(pcm: array) -> bytes:
    if _BIG_ENDIAN:
        pcm.byteswap()
    return pcm.tobytes()


def _stretch(segment: bytes, count: int) -> bytes:
    """``segment`` resampled linearly to ``count`` samples, ends kept.

    Keeping the first and last sample keeps the waveform continuous with
    what comes before and after, so a slip makes no click.
    """
    x = _samples(segment)
    step = (len(x) - 1) / (count - 1)
    out = array("h")
    for i in range(count):
        pos = i * step
        k = int(pos)
        frac = pos - k
        out.append(x[k] if frac == 0 else round(x[k] + (x[k + 1] - x[k]) * frac))
    return _pcm_bytes(out)


def _gain_table(gain: float) -> array:
    """Scaled and clipped value of every int16, indexed by the sample itself.

    Entries 0..32767 are the non-negative samples and 32768..65535 the
    negative ones, so Python's negative indexing finds any signed sample.
    """
    def scaled(s: int) -> int:
        return max(-32768, min(32767, round(s * gain)))
    return array("h", [scaled(s) for s in range(32768)] + [scaled(s) for s in range(-32768, 0)])


class AudioRing:
    """
    :param max_ms: the most audio held; a write beyond it drops the oldest.
    :param target_ms: the fill to keep by drift correction; ``None`` for a
        plain bounded FIFO (no correction, no refill wait after an underrun).
    :param gain_db: level applied to what is written, clipped to int16.
    """

    def __init__(self, max_ms: int = 120, *, target_ms: float | None = None, gain_db: float = 0.0):
        if target_ms is not None and not 0 < target_ms < max_ms:
            raise ValueError(f"target_ms must be between 0 and max_ms ({max_ms}), not {target_ms}")
        self.capacity = int(max_ms * BYTES_PER_MS)
        self.target_ms = target_ms
        self._target = None if target_ms is None else int(target_ms * BYTES_PER_MS) & ~1
        self._base_target = self._target
        self._max_target = max(self._base_target or 0, self.capacity - 2 * FRAME_BYTES)
        self._calm_bytes = 0      # audio read since the last underrun or adaptation
        self._lowest = None       # the lowest fill a read found in that time
        self._since_clear = 0     # bytes read since clear(), up to the settling time
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.underruns = 0        # reads that ran dry while playing
        self.overruns = 0         # writes that overfilled the ring while read
        self._last_read = -math.inf   # time.monotonic() of the last read
        self.waits = 0            # silent reads while (re)filling to the target
        self.drops = 0            # samples removed by drift correction
        self.repeats = 0          # samples added by drift correction
        self._playing = target_ms is None
        self._average = 0.0       # bytes, averaged at reads
        self._slip = 0.0          # fractional samples owed to the correction
        self._slipping = False
        self._gain = 1.0
        self._table: array | None = None
        self.gain_db = gain_db

    # -- level ------------------------------------------------------------

    @property
    def gain(self) -> float:
        """Linear factor applied to written audio (1.0 = unchanged)."""
        return self._gain

    @gain.setter
    def gain(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"gain must not be negative, not {value}")
        # Build first, then publish: a writer sees the old or the new table.
        self._table = None if value == 1.0 else _gain_table(value)
        self._gain = value

    @property
    def gain_db(self) -> float:
        return 20 * math.log10(self._gain) if self._gain > 0 else -math.inf

    @gain_db.setter
    def gain_db(self, db: float) -> None:
        self.gain = 1.0 if db == 0 else 10 ** (db / 20)

    # -- audio ------------------------------------------------------------

    def write(self, data: bytes) -> None:
        table = self._table
        if table is not None:
            data = _pcm_bytes(array("h", map(table.__getitem__, _samples(data))))
        with self._lock:
            self._buf += data
            excess = len(self._buf) - self.capacity
            if excess > 0:
                if self._target is not None:
                    excess = len(self._buf) - self._target    # back to the target, not to the brim
                excess += excess % 2          # keep sample alignment
                del self._buf[:excess]
                if time.monotonic() - self._last_read < READER_GONE_S:
                    self.overruns += 1

    def read(self, size: int = FRAME_BYTES) -> bytes:
        with self._lock:
            self._last_read = time.monotonic()
            fill = len(self._buf)
            settled = self._since_clear >= _SETTLE_BYTES
            if not settled:
                self._since_clear += size
            if not self._playing:
                if fill < self._target:
                    self.waits += 1
                    return b"\x00" * size
                self._playing = True
                if fill > self._target:
                    # Start at the target, not wherever the last write left it.
                    del self._buf[:fill - self._target]
                    fill = self._target
                self._average = float(fill)
                self._slip = 0.0
            if fill < size:
                self.underruns += 1
                data = bytes(self._buf) + b"\x00" * (size - fill)
                self._buf.clear()
                self._playing = self._target is None      # refill before playing again
                if settled:
                    self._adapt(+1)
                return data
            if self._target is None:
                return self._take(size)
            self._calm_bytes += size
            self._lowest = fill if self._lowest is None else min(self._lowest, fill)
            if self._target > self._base_target and self._calm_bytes >= _CALM_BYTES:
                if self._lowest - _STEP_BYTES >= size:
                    self._adapt(-1)
                else:                         # the host still needs it: look again later
                    self._calm_bytes, self._lowest = 0, None
            return self._corrected(size, fill)

    def _adapt(self, direction: int) -> None:
        """Move the target a step up (after an underrun) or down (after calm)."""
        self._calm_bytes, self._lowest = 0, None
        if self._target is None:
            return
        self._target = max(self._base_target, min(self._max_target, self._target + direction * _STEP_BYTES))

    def clear(self) -> None:
        """Forget what is held (a new call must not hear the last one's tail)
        and, with a target, fill up to it again before playing."""
        with self._lock:
            self._buf.clear()
            self._playing = self._target is None
            self._slip = 0.0
            self._since_clear = 0
            self._target = self._base_target
            self._calm_bytes, self._lowest = 0, None

    def _take(self, size: int) -> bytes:
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _corrected(self, size: int, fill: int) -> bytes:
        samples = size // 2
        self._average += (fill - self._average) * min(1.0, samples / AVERAGE_SAMPLES)
        error_ms = (self._average - self._target) / BYTES_PER_MS
        # Hysteresis: start beyond the dead band, stop once back near the
        # target. Slips then come in short runs with silence between, rather
        # than a trickle that never quite ends.
        if abs(error_ms) <= (SETTLED_MS if self._slipping else DEAD_BAND_MS) or samples < 3:
            self._slipping = False
            self._slip = 0.0
            return self._take(size)
        self._slipping = True
        self._slip += min(MAX_SLIP, max(MIN_SLIP, SLIP_PER_MS * abs(error_ms))) * samples
        if self._slip < 1.0:
            return self._take(size)
        span = min(SLIP_SAMPLES, samples - 1)
        if error_ms > 0:
            if fill < size + 2:
                return self._take(size)
            self._slip -= 1.0
            self.drops += 1
            data = self._take(size + 2)       # one sample more than asked ...
            cut = len(data) - 2 * (span + 1)
            return data[:cut] + _stretch(data[cut:], span)     # ... squeezed into the tail
        self._slip -= 1.0
        self.repeats += 1
        data = self._take(size - 2)           # one sample less than asked ...
        cut = len(data) - 2 * span
        return data[:cut] + _stretch(data[cut:], span + 1)     # ... stretched over the tail

    # -- state ------------------------------------------------------------

    def current_target_ms(self) -> float | None:
        """The fill aimed at now: ``target_ms`` raised by underruns, if any."""
        target = self._target                 # one int read: no lock needed
        return None if target is None else target / BYTES_PER_MS

    def counters(self) -> dict:
        """What happened to the audio so far, for status pages and logs."""
        return {"underruns": self.underruns, "overruns": self.overruns, "drops": self.drops,
                "repeats": self.repeats, "target_ms": self.current_target_ms()}

    def level_ms(self) -> float:
        with self._lock:
            return len(self._buf) / BYTES_PER_MS

    @property
    def corrections(self) -> int:
        """Samples dropped or repeated by drift correction so far."""
        return self.drops + self.repeats

    def average_ms(self) -> float:
        """The averaged fill the drift correction steers by (0 before it plays)."""
        with self._lock:
            return self._average / BYTES_PER_MS
