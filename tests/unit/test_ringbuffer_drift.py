"""Drift correction and level of the line audio ring, on simulated clocks.

Two clocks are simulated event by event: a sound card delivering 1024
frames at 48 kHz (170 or 171 samples at 8 kHz a period) and pjsua's clock
taking 160 samples every 20 ms, one of them off by some ppm. No sleeping:
minutes of audio take a fraction of a second.
"""
from __future__ import annotations

import heapq
import math
import random
import time
from array import array

import pytest

from firmware.core.ringbuffer import FRAME_BYTES, READER_GONE_S, AudioRing

RATE = 8000
CARD_PERIOD = 1024 / 48000          # s, one JACK/ALSA period


# 300 Hz at 8 kHz repeats exactly every 80 samples: slice a precomputed
# stretch instead of calling sin() millions of times.
SINE_LEVEL = 10000
_SINE = array("h", (round(SINE_LEVEL * math.sin(2 * math.pi * 300 * i / RATE)) for i in range(80 * 8))).tobytes()


def sine_bytes(start: int, count: int) -> bytes:
    offset = 2 * (start % 80)
    return _SINE[offset:offset + 2 * count]


class Clocks:
    """A writer and a reader on their own clocks, sharing one ring."""

    def __init__(self, ring: AudioRing, *, writer: str, ppm: float, jitter_ms: float = 0.0, seed: int = 1):
        # writer "card": the card writes ~171-sample chunks, pjsua reads 160;
        # writer "pjsua": pjsua writes 160, the card reads ~171. ``ppm`` speeds
        # up the card's clock (negative slows it down); ``jitter_ms`` moves
        # each card callback early or late (JACK's dummy here: about ±4 ms).
        self.ring = ring
        self.jitter = jitter_ms / 1000
        self.random = random.Random(seed)
        self.writer = writer
        self.card_period = CARD_PERIOD / (1 + ppm * 1e-6)
        self.written = 0              # samples, so the sine stays continuous
        self.card_periods = 0
        self.read_audio = bytearray()
        self.levels: list[tuple[float, float]] = []      # (time, ms) at each read
        self.settled_at = 60.0
        self.at_settled = (0, 0)      # (drops, repeats) when the start-up settling is over

    def _card_samples(self) -> int:
        # 1024 frames at 48 kHz are 170.67 samples at 8 kHz: 170 or 171.
        self.card_periods += 1
        return self.card_periods * 1024 // 6 - (self.card_periods - 1) * 1024 // 6

    def run(self, seconds: float, keep_audio: bool = False) -> None:
        events = [(0.0, "card", 0), (0.0, "pjsua", 0)]
        while events:
            t, who, tick = heapq.heappop(events)
            if t > seconds:
                break
            if t <= self.settled_at:
                self.at_settled = (self.ring.drops, self.ring.repeats)
            if who == "card":
                n = self._card_samples()
                if self.writer == "card":
                    self._write(n)
                else:
                    self._read(t, n, keep_audio)
                late = self.random.uniform(-self.jitter, self.jitter)
                heapq.heappush(events, ((tick + 1) * self.card_period + late, "card", tick + 1))
            else:
                if self.writer == "pjsua":
                    self._write(FRAME_BYTES // 2)
                else:
                    self._read(t, FRAME_BYTES // 2, keep_audio)
                heapq.heappush(events, ((tick + 1) * 0.02, "pjsua", tick + 1))

    def _write(self, n: int) -> None:
        self.ring.write(sine_bytes(self.written, n))
        self.written += n

    def _read(self, t: float, n: int, keep_audio: bool) -> None:
        self.levels.append((t, self.ring.level_ms()))
        data = self.ring.read(2 * n)
        if keep_audio:
            self.read_audio += data


@pytest.mark.parametrize("writer", ["card", "pjsua"])
@pytest.mark.parametrize("ppm", [500, -500])
def test_fill_stays_near_the_target_for_ten_minutes_of_drift(writer, ppm):
    ring = AudioRing(max_ms=120, target_ms=40)
    clocks = Clocks(ring, writer=writer, ppm=ppm)
    minutes = 10
    clocks.run(minutes * 60)

    assert ring.underruns == 0 and ring.overruns == 0, (ring.underruns, ring.overruns)
    settled = [ms for t, ms in clocks.levels if t > clocks.settled_at]
    # The fill before a read swings by one writer chunk (~20 ms) around the
    # average; the average itself stays within a few ms of the target.
    assert 40 - 25 < min(settled) and max(settled) < 40 + 25, (min(settled), max(settled))
    assert abs(sum(settled) / len(settled) - 40) < 15, sum(settled) / len(settled)
    # 500 ppm of 8000 samples/s for 10 minutes is 2400 samples to slip, all
    # one way: which way depends on who is faster.
    drift = abs(ppm) * 1e-6 * RATE * minutes * 60
    writer_faster = (writer == "card") == (ppm > 0)
    slipped, wrong_way = (ring.drops, ring.repeats) if writer_faster else (ring.repeats, ring.drops)
    assert 0.9 * drift < slipped < 1.1 * drift, (slipped, drift)
    # Once settled, no chatter: every slip goes the way the drift needs.
    drops, repeats = ring.drops - clocks.at_settled[0], ring.repeats - clocks.at_settled[1]
    assert (repeats if writer_faster else drops) == 0, (drops, repeats)


@pytest.mark.parametrize("writer", ["card", "pjsua"])
@pytest.mark.parametrize("ppm", [500, -500, 2000])
@pytest.mark.parametrize("seed", [1, 2])
def test_jittery_callbacks_with_a_50_ms_target_never_run_dry(writer, ppm, seed):
    # The fill before a read swings by a writer block (~21 ms) and the
    # callbacks jitter, and where play starts in that swing is chance: a
    # 50 ms target leaves a read block of headroom in the worst case.
    ring = AudioRing(max_ms=120, target_ms=50)
    clocks = Clocks(ring, writer=writer, ppm=ppm, jitter_ms=4, seed=seed)
    clocks.run(3 * 60)
    assert ring.underruns == 0 and ring.overruns == 0, (ring.underruns, ring.overruns)
    settled = [ms for t, ms in clocks.levels if t > clocks.settled_at]
    assert 50 - 30 < min(settled) and max(settled) < 50 + 30, (min(settled), max(settled))
    drift = abs(ppm) * 1e-6 * RATE * (3 * 60 - clocks.settled_at)
    drops, repeats = ring.drops - clocks.at_settled[0], ring.repeats - clocks.at_settled[1]
    assert abs(abs(drops - repeats) - drift) < 0.15 * drift + 20, (drops, repeats, drift)


@pytest.mark.parametrize("ppm", [500, -500])
def test_without_correction_the_same_drift_overflows_or_starves(ppm):
    # The counterpart that shows the test above can fail: a plain FIFO of
    # the same size under the same drift hits its hard bounds.
    ring = AudioRing(max_ms=120)
    ring.write(b"\x00" * 40 * 16)
    Clocks(ring, writer="card", ppm=ppm).run(10 * 60)
    assert (ring.overruns if ppm > 0 else ring.underruns) > 0
    assert ring.corrections == 0


def test_matched_clocks_need_almost_no_correction():
    ring = AudioRing(max_ms=120, target_ms=40)
    Clocks(ring, writer="card", ppm=0).run(5 * 60)
    # Only the start-up settling towards the target (<= 20 ms = 160 samples).
    assert ring.corrections <= 160 and ring.underruns == 0 and ring.overruns == 0


def test_a_slip_leaves_no_step_in_the_waveform():
    # Plenty of drift so many slips happen; a raw one-sample drop in a
    # 300 Hz sine would make a step twice the normal sample-to-sample change.
    ring = AudioRing(max_ms=120, target_ms=40)
    clocks = Clocks(ring, writer="card", ppm=3000)
    clocks.run(30, keep_audio=True)
    assert ring.drops > 100
    x = array("h")
    x.frombytes(bytes(clocks.read_audio))
    start = ring.waits * FRAME_BYTES // 2          # skip the silence while it filled
    steps = [abs(x[i + 1] - x[i]) for i in range(start, len(x) - 1)]
    nominal = SINE_LEVEL * 2 * math.sin(math.pi * 300 / RATE)
    assert max(steps) < 1.12 * nominal, (max(steps), nominal)


def pcm(values) -> bytes:
    return array("h", values).tobytes()


def test_underrun_pads_with_silence_then_refills_to_the_target():
    ring = AudioRing(max_ms=120, target_ms=40)
    ring.write(pcm(range(100)))                    # 12.5 ms: below the target
    assert ring.read() == b"\x00" * FRAME_BYTES and ring.waits == 1 and ring.level_ms() == 12.5
    ring.write(pcm(range(100, 340)))               # 42.5 ms: it plays, from the target on
    assert ring.read() == pcm(range(20, 180))      # the oldest 2.5 ms went
    ring.write(pcm(range(340, 350)))
    assert ring.read() == pcm(range(180, 340))
    assert ring.read() == pcm(range(340, 350)) + b"\x00" * 300 and ring.underruns == 1
    ring.write(pcm([7] * 160))                     # 20 ms: not yet back to 40
    assert ring.read() == b"\x00" * FRAME_BYTES and ring.waits == 2 and ring.underruns == 1


def test_overrun_drops_the_oldest_audio_down_to_the_target():
    ring = AudioRing(max_ms=60, target_ms=40)
    ring.read()                                    # a reader is there (it waits: nothing yet)
    ring.write(pcm(range(400)))                    # 50 ms
    ring.write(pcm(range(400, 560)))               # 70 ms > 60: back to 40
    assert ring.overruns == 1 and ring.level_ms() == 40
    assert array("h", ring.read()[:4]).tolist() == [240, 241]


def test_audio_nobody_reads_is_dropped_without_counting_an_overrun():
    # pjsua's bridge does not read a port nobody listens to (a line caller
    # in the menu): the ring keeps only the newest audio, and that is no fault.
    ring = AudioRing(max_ms=60, target_ms=40)
    for n in range(10):
        ring.write(pcm([n] * 160))                 # 200 ms into a 60 ms ring
    assert ring.overruns == 0 and ring.level_ms() == 40
    assert array("h", ring.read()).tolist() == [8] * 160     # plays from the newest 40 ms
    # A reader that stopped reading is gone after READER_GONE_S, not at once.
    for n in range(3):
        ring.write(pcm([n] * 160))
    assert ring.overruns == 1
    time.sleep(READER_GONE_S + 0.05)
    for n in range(6):
        ring.write(pcm([n] * 160))
    assert ring.overruns == 1 and ring.level_ms() <= 60


@pytest.mark.parametrize("db, factor", [(6.0, 10 ** (6 / 20)), (-6.0, 10 ** (-6 / 20)), (-20.0, 0.1)])
def test_gain_scales_the_samples(db, factor):
    ring = AudioRing(max_ms=120, gain_db=db)
    source = [0, 1000, -1000, 12345, -12345, 16000, -16000]
    ring.write(array("h", source).tobytes())
    got = array("h", ring.read(2 * len(source))).tolist()
    assert got == [round(s * factor) for s in source]
    assert ring.gain_db == pytest.approx(db)


def test_gain_clips_instead_of_wrapping():
    ring = AudioRing(max_ms=120, gain_db=12)
    ring.write(array("h", [20000, -20000, 32767, -32768, 4000]).tobytes())
    assert array("h", ring.read(10)).tolist() == [32767, -32768, 32767, -32768, round(4000 * 10 ** 0.6)]


def test_linear_gain_and_unity_pass_audio_unchanged():
    ring = AudioRing(max_ms=120)
    data = array("h", [-32768, -1, 0, 1, 32767]).tobytes()
    ring.write(data)
    assert ring.read(len(data)) == data
    ring.gain = 0.5
    assert ring.gain_db == pytest.approx(-6.0206, abs=1e-3)
    ring.write(data)
    assert array("h", ring.read(len(data))).tolist() == [-16384, 0, 0, 0, 16384]   # round half to even
    ring.gain_db = 0
    ring.write(data)
    assert ring.read(len(data)) == data


def test_target_must_fit_in_the_ring():
    with pytest.raises(ValueError):
        AudioRing(max_ms=40, target_ms=40)


def run_stalling_writer(ring: AudioRing, seconds: float, stall_every_s: float | None, stall_ms: int = 70) -> list:
    """pjsua reads 20 ms every 20 ms; the writer sends 20 ms frames on the same
    clock but, every ``stall_every_s``, stalls for ``stall_ms`` and then
    catches up with all the frames it owes at once (a busy host's thread).
    Returns the reads' times of underrun."""
    underrun_times = []
    stall_ticks = stall_ms // 20
    every_ticks = None if stall_every_s is None else round(stall_every_s * 50)
    owed = 0
    for tick in range(round(seconds * 50)):
        t = tick * 0.02
        stalled = every_ticks is not None and tick % every_ticks < stall_ticks
        if stalled:
            owed += 1
        else:
            for _ in range(owed + 1):
                ring.write(sine_bytes(0, 160))
            owed = 0
        before = ring.underruns
        ring.read()
        if ring.underruns > before:
            underrun_times.append(t)
    return underrun_times


def test_a_stalling_writer_raises_the_target_until_underruns_stop():
    ring = AudioRing(max_ms=120, target_ms=30)
    underruns = run_stalling_writer(ring, 120, stall_every_s=1.0)
    # A 60 ms stall (three missed frames) drains a 30 ms fill: the first
    # ones underrun, and each underrun raises the target by 10 ms until a
    # stall no longer empties it (fill before the third missed read:
    # target - 60 ms, which must still hold a frame).
    assert 1 <= len(underruns) <= 6, underruns
    assert max(underruns) < 10, underruns
    assert ring.current_target_ms() == 80, ring.current_target_ms()


def test_the_target_comes_back_down_once_the_host_is_calm():
    ring = AudioRing(max_ms=120, target_ms=30)
    run_stalling_writer(ring, 20, stall_every_s=1.0)
    raised = ring.current_target_ms()
    assert raised > 30
    underruns = run_stalling_writer(ring, 200, stall_every_s=None)
    assert underruns == [] and ring.current_target_ms() == 30
    # ...and the drift correction brought the fill itself down with it.
    assert ring.average_ms() < 30 + 5, ring.average_ms()


def test_the_target_stops_two_frames_below_the_brim():
    ring = AudioRing(max_ms=120, target_ms=30)
    run_stalling_writer(ring, 60, stall_every_s=0.5, stall_ms=200)   # hopeless: 200 ms stalls
    assert ring.current_target_ms() == 80
    assert ring.counters()["target_ms"] == 80


def test_a_plain_fifo_has_no_target_to_adapt():
    ring = AudioRing(max_ms=120)
    run_stalling_writer(ring, 5, stall_every_s=1.0)
    assert ring.current_target_ms() is None and ring.underruns > 0


def test_underruns_while_a_call_settles_do_not_raise_the_target():
    ring = AudioRing(max_ms=120, target_ms=30)
    # A stall in the first second: the two streams started at different moments.
    run_stalling_writer(ring, 0.9, stall_every_s=0.5, stall_ms=80)
    assert ring.underruns > 0 and ring.current_target_ms() == 30
    # The same stall later in the call is the host being late: the target grows.
    run_stalling_writer(ring, 3, stall_every_s=0.5, stall_ms=80)
    assert ring.current_target_ms() > 30


def test_a_new_call_starts_from_the_configured_target():
    ring = AudioRing(max_ms=120, target_ms=30)
    run_stalling_writer(ring, 10, stall_every_s=1.0)
    assert ring.current_target_ms() > 30
    ring.clear()
    assert ring.current_target_ms() == 30 and ring.counters()["target_ms"] == 30
