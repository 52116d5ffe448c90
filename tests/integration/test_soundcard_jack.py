"""The sound-card line on a real, paced PortAudio device: JACK's dummy driver.

A private ``jackd --no-realtime -d dummy`` (its own server name, so it never
meets a desktop's JACK) is the sound card: it runs at 48 kHz, so the line
resamples, and its clock paces the stream like real hardware would.
PortAudio's JACK host API connects to the server named by
``$JACK_DEFAULT_SERVER`` and only sees servers running when PortAudio is
initialised, so the fixture points the variable at ours and re-initialises
PortAudio; on teardown PortAudio lets go of the server *before* jackd stops
(PortAudio 19.6 hangs in Pa_Terminate after its server died).

The dummy driver's capture is silence; the test wires the stream's own
JACK output port to its input port, so what the line plays comes back as
what it captures, one JACK period later. A thread stands in for pjsua's
clock: every 20 ms it writes a frame into ``from_pbx`` and takes one from
``to_pbx``.

The period is JACK's usual 1024 frames: 170 2/3 samples at 8 kHz, so the
line's blocks never match pjsua's 160 (the rings' real job) and the loop
delays by a fraction of a sample, which is why audio is matched at 1/6-
sample lags. Audio checks start after a pre-roll in which the rings settle.
A CPU-starved host makes callbacks late and rings run dry as real hardware
would; timing checks then skip, saying so, unless the line's own callback
was slow.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from array import array
from pathlib import Path

import numpy as np
import pytest

from audio import RATE, noise_signal
from firmware.core.ringbuffer import FRAME_BYTES, AudioRing
from jacktools import JACK_RATE, PERIOD, JackServer

ROOT = Path(__file__).resolve().parents[2]

from firmware.hw.soundcard import (RING_TARGET_MS, Decimator, Interpolator, SoundCardError, SoundCardLine,
                                   line_rings, lowpass_taps, refresh_devices)


@pytest.fixture(scope="module")
def jack(tmp_path_factory):
    sd = pytest.importorskip("sounddevice", reason="sounddevice/libportaudio2 not installed")
    server = JackServer(tmp_path_factory.mktemp("jack")).start()
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    try:
        refresh_devices()
        if not any(api["name"].startswith("JACK") for api in sd.query_hostapis()):
            pytest.skip("this PortAudio has no JACK host API (built without JACK?)")
        yield server
    finally:
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        refresh_devices()           # PortAudio leaves the server first ...
        server.stop()               # ... then it may go


class PbxClock(threading.Thread):
    """pjsua's clock thread, as the rings see it: one 20 ms frame each way a tick.

    Writes ``preroll_s`` of silence and then ``source`` (int16) into
    ``from_pbx`` frame by frame (then silence), reads ``to_pbx`` into
    :attr:`heard` and samples both fills. Ticks follow a ``time.monotonic``
    schedule and catch up when late, as pjsua's clock does; ``ppm`` runs it
    fast (positive) or slow.
    """

    def __init__(self, to_pbx: AudioRing, from_pbx: AudioRing, source: np.ndarray, *, preroll_s: float = 0.0,
                 ppm: float = 0.0):
        super().__init__(daemon=True)
        self.to_pbx, self.from_pbx = to_pbx, from_pbx
        self.source = b"\x00" * int(preroll_s * RATE) * 2 + source.astype("<i2").tobytes()
        self.period = 0.02 / (1 + ppm * 1e-6)
        self.heard = bytearray()
        self.levels: list[tuple[float, float, float]] = []     # (t, to_pbx ms, from_pbx ms)
        self.slips_at: list[tuple[float, int]] = []            # (t, slips of both rings so far)
        self.net_slips: list[tuple[float, int, int]] = []      # (t, to_pbx repeats-drops, from_pbx drops-repeats)
        self.counters: list[tuple[float, tuple[int, ...]]] = []   # (t, under/overruns of both rings)
        self.late_at: list[tuple[float, int]] = []             # (t, the line's late callbacks so far)
        self.line: SoundCardLine | None = None
        self.stopping = threading.Event()
        self.ticks = 0
        self.started_at = time.monotonic()     # set again when the thread runs

    def run(self) -> None:
        start = self.started_at = time.monotonic()
        while not self.stopping.wait(max(0.0, start + self.ticks * self.period - time.monotonic())):
            offset = self.ticks * FRAME_BYTES
            frame = self.source[offset:offset + FRAME_BYTES]
            self.from_pbx.write(frame + b"\x00" * (FRAME_BYTES - len(frame)))
            t = time.monotonic() - start
            self.levels.append((t, self.to_pbx.level_ms(), self.from_pbx.level_ms()))
            self.slips_at.append((t, self.to_pbx.corrections + self.from_pbx.corrections))
            self.net_slips.append((t, self.to_pbx.repeats - self.to_pbx.drops,
                                   self.from_pbx.drops - self.from_pbx.repeats))
            self.counters.append((t, (self.to_pbx.underruns, self.to_pbx.overruns,
                                      self.from_pbx.underruns, self.from_pbx.overruns)))
            self.late_at.append((t, self.line.late_callbacks if self.line else 0))
            self.heard += self.to_pbx.read(FRAME_BYTES)
            self.ticks += 1

    def stop(self) -> np.ndarray:
        self.stopping.set()
        self.join(5)
        return np.frombuffer(bytes(self.heard), dtype="<i2") / 32768.0

    def slips_between(self, a: float, b: float) -> int:
        counts = [n for t, n in self.slips_at if a <= t <= b]
        return counts[-1] - counts[0]

    def net_slips_after(self, a: float) -> tuple[int, int]:
        """Samples to_pbx repeated net and from_pbx dropped net, from ``a`` seconds on."""
        since = next(row for row in self.net_slips if row[0] >= a)
        last = self.net_slips[-1]
        return last[1] - since[1], last[2] - since[2]

    def faults_after(self, a: float) -> dict[str, int]:
        """Under- and overruns of each ring from ``a`` seconds on.

        The start is left out: whichever side starts first fills or waits
        on its ring before the other side runs (one overrun, by design).
        """
        since = next(c for t, c in self.counters if t >= a)
        now = (self.to_pbx.underruns, self.to_pbx.overruns, self.from_pbx.underruns, self.from_pbx.overruns)
        names = ("to_pbx underruns", "to_pbx overruns", "from_pbx underruns", "from_pbx overruns")
        return {name: n - m for name, n, m in zip(names, now, since)}


def run_loop(jack: JackServer, source: np.ndarray, *, preroll_s: float = 0.0, tail_s: float = 0.4,
             ppm: float = 0.0, during=None, **line_args):
    """Play ``source`` through the card and back; returns the line, the clock and what came back.

    ``heard`` starts where ``source`` started (the pre-roll is cut off).
    """
    to_pbx, from_pbx = line_rings()
    line = SoundCardLine("system", to_pbx, from_pbx, **line_args)
    clock = PbxClock(to_pbx, from_pbx, int16(source), preroll_s=preroll_s, ppm=ppm)
    clock.line = line
    clock.start()                 # pjsua's clock runs before a line is opened
    try:
        started = time.monotonic()
        line.start()
        jack.loop_back()
        end = time.monotonic() + preroll_s + len(source) / RATE + tail_s
        if during:
            during(line, clock)
        time.sleep(max(0.0, end - time.monotonic()))
        heard = clock.stop()[int(preroll_s * RATE):]
        assert line.error is None, line.error
    finally:
        clock.stop()
        line.close()
        line.ran_s = time.monotonic() - started     # the callbacks ran this long (with the loop's set-up)
    return line, clock, heard


def int16(signal: np.ndarray) -> np.ndarray:
    return np.round(np.clip(signal, -1, 1) * 32767).astype(np.int16)


def _upsample(x: np.ndarray, factor: int) -> np.ndarray:
    spectrum = np.zeros(len(x) * factor // 2 + 1, dtype=complex)
    head = np.fft.rfft(x)
    spectrum[:len(head)] = head
    return np.fft.irfft(spectrum, len(x) * factor) * factor


def fine_correlation(reference: np.ndarray, recorded: np.ndarray, max_lag_s: float,
                     factor: int = 6) -> tuple[float, float]:
    """Like ``audio.best_correlation`` but at 1/6-sample lags.

    The JACK loop delays by one 1024-frame period: 170 2/3 samples at 8 kHz.
    At whole-sample lags that 2/3 sample takes speech-band noise from 0.96
    to 0.71 (measured), so the search runs on both signals upsampled x6.
    """
    seg = recorded[:len(reference) + int(max_lag_s * RATE) + 1]
    if len(seg) < len(reference):
        return 0.0, 0.0
    ref, rec = _upsample(reference, factor), _upsample(seg, factor)
    n = len(rec) + len(ref)
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)[:len(rec) - len(ref) + 1]
    energy = np.concatenate([[0.0], np.cumsum(rec ** 2)])
    window = energy[len(ref):] - energy[:-len(ref)]
    norm = corr / np.sqrt(np.dot(ref, ref) * np.maximum(window, 1e-12))
    best = int(np.argmax(norm))
    return float(norm[best]), best / (RATE * factor)


def windows_found(reference: np.ndarray, heard: np.ndarray, seconds: float,
                  window_s: float = 0.5) -> list[tuple[float, float]]:
    """``(peak, lag)`` of each window of ``reference`` found in ``heard``.

    Each window finds its own lag: a drift slip moves the audio by a
    sample, an underrun (the ring refills to its target) by up to 50 ms.
    """
    size = int(window_s * RATE)
    return [fine_correlation(reference[start:start + size], heard[start:], max_lag_s=0.4)
            for start in range(0, int(seconds * RATE) - size + 1, size)]


def disturbed(clock: PbxClock, start: float, end: float) -> bool:
    """Did a slip, under/overrun or stalled callback touch the clock-time span?"""
    faults = [sum(c) for t, c in clock.counters if start <= t <= end]
    late = [n for t, n in clock.late_at if start <= t <= end]
    return (clock.slips_between(start, end) > 0 or faults[-1] > faults[0] or late[-1] > late[0])


@contextlib.contextmanager
def unless_the_host_stalled(line: SoundCardLine):
    """Turn a failed timing check into a skip when the host, not the line, is to blame.

    On a CPU-starved box (a shared CI runner) JACK's dummy and the callback
    thread are scheduled late, callbacks arrive a whole period late and the
    rings run dry, as they would on real hardware. That says nothing about
    the line; the line's own cost per callback still has to be small, so a
    slow callback fails rather than skips.
    """
    try:
        yield
    except AssertionError as failure:
        period = PERIOD / JACK_RATE
        if line.late_callbacks and line.max_callback_cpu_s < period / 2:
            pytest.skip(f"the host stalled the audio thread ({line.late_callbacks} callbacks late, longest gap "
                        f"{line.max_gap_s * 1000:.0f} ms; the line's own callback at most "
                        f"{line.max_callback_cpu_s * 1000:.1f} ms CPU): {str(failure).splitlines()[0][:300]}")
        raise


# Long enough for the rings' start-up settling (up to half a card period of
# fill to slip away, ~2 s) to be over before the signal starts.
PREROLL_S = 3.0


def test_played_audio_comes_back_through_the_card(jack):
    source = noise_signal(3, seed=41)
    line, clock, heard = run_loop(jack, source, preroll_s=PREROLL_S)
    assert line.rate == JACK_RATE, "the dummy runs at 48 kHz: the line must resample"
    windows = windows_found(source, heard, 3.0)
    good = [(peak, lag) for peak, lag in windows if peak > 0.9]
    with unless_the_host_stalled(line):
        assert len(good) >= len(windows) // 2, f"the line's own playback did not come back: {windows}"
        # Two ring fills (~2 x 50 ms) + one JACK period (21 ms) + the filters.
        assert all(0.08 < lag < 0.2 for _, lag in good), windows
        # Every half second of the 3 s made it. A slip moves the audio by
        # one sample, which spoils the correlation of the window it falls in
        # (not the sound): only a window that had one (or an underrun) may
        # miss. With matched clocks, once the rings settled in the pre-roll,
        # that is normally none.
        lag = good[0][1]
        for k, (peak, _) in enumerate(windows):
            span = (PREROLL_S + 0.5 * k - 0.05, PREROLL_S + 0.5 * k + 0.5 + lag + 0.05)
            assert peak > 0.9 or disturbed(clock, *span), (k, windows)


def test_levels_scale_the_audio_as_configured(jack):
    source = noise_signal(4.5, seed=42)

    def change_levels(line, clock):
        # On the clock's time line, which ``heard`` follows (the line's
        # start and the JACK wiring before this may take a while).
        time.sleep(max(0.0, clock.started_at + PREROLL_S + 1.5 - time.monotonic()))
        line.output_gain_db = -6.0            # towards the line: half
        time.sleep(max(0.0, clock.started_at + PREROLL_S + 3.0 - time.monotonic()))
        line.input_gain_db = 12.0             # from the line: x4, so x2 overall

    line, _, heard = run_loop(jack, source, preroll_s=PREROLL_S, during=change_levels)
    _, lag = fine_correlation(source[:RATE], heard, max_lag_s=0.4)
    shift = int(round(lag * RATE))

    def gain(a: float, b: float) -> float:
        # Level of what came back over what was sent, in a window well inside one setting.
        ref = source[int(a * RATE):int(b * RATE)]
        got = heard[int(a * RATE) + shift:int(b * RATE) + shift]
        return float(np.sqrt(np.mean(got ** 2) / np.mean(ref ** 2)))

    first, second, third = gain(0.4, 1.4), gain(1.9, 2.9), gain(3.4, 4.4)
    with unless_the_host_stalled(line):
        assert 0.8 < first < 1.05, first          # 0 dB both ways, less the filters' edge droop
        assert second / first == pytest.approx(10 ** (-6 / 20), rel=0.03), (first, second)
        assert third / first == pytest.approx(10 ** (6 / 20), rel=0.03), (first, third)


def test_paced_for_ten_seconds_rings_neither_starve_nor_grow(jack):
    # pjsua's clock runs 1000 ppm fast against the card (more than real
    # crystals): uncorrected, the fills would wander by 11 ms in 11 s.
    source = noise_signal(11, seed=43)
    line, clock, heard = run_loop(jack, source, ppm=1000, tail_s=0.0)
    to_pbx, from_pbx = line.to_pbx, line.from_pbx
    # The card was paced by its own clock: 46.9 periods of 1024 frames a
    # second for as long as the stream ran (11 s plus the JACK wiring's set-up).
    periods = line.ran_s * JACK_RATE / PERIOD
    assert 11 * JACK_RATE / PERIOD < periods + 2 and 0.95 * periods < line.callbacks < 1.05 * periods + 2, \
        (line.callbacks, line.ran_s)
    assert line.samples_in == pytest.approx(line.frames / 6, abs=10)
    assert line.max_callback_cpu_s < PERIOD / JACK_RATE / 2, line.max_callback_cpu_s
    with unless_the_host_stalled(line):
        # Once running, no ring ran dry or overfilled (the start is left
        # out: whichever side starts first fills or waits, by design).
        faults = clock.faults_after(1.0)
        assert not any(faults.values()), faults
        for column, ring in ((1, "to_pbx"), (2, "from_pbx")):
            fills = [row[column] for row in clock.levels if row[0] > 1.0]
            assert 10 < min(fills) and max(fills) < 100, (ring, min(fills), max(fills))   # well inside 0..120
            late = [row[column] for row in clock.levels if row[0] > 6]
            assert abs(sum(late) / len(late) - RING_TARGET_MS) < 15, (ring, sum(late) / len(late))
        # The fast clock made the rings slip: to_pbx repeats, from_pbx drops.
        # Counted from 5 s on: the start-up settling (up to half a card
        # period, either way, slipped at up to 5000 ppm) is over by then,
        # and 6 s at 1000 ppm is 48 samples of drift to correct.
        to_net, from_net = clock.net_slips_after(5.0)
        assert to_net > 0 and from_net > 0, \
            (to_net, from_net, to_pbx.drops, to_pbx.repeats, from_pbx.drops, from_pbx.repeats)
        sent, came_back = source[5 * RATE:10 * RATE], heard[5 * RATE:10 * RATE]
        assert np.sqrt(np.mean(came_back ** 2)) > 0.5 * np.sqrt(np.mean(sent ** 2))     # audio kept flowing


def test_an_unknown_device_is_a_clear_error(jack):
    line = SoundCardLine("no such card anywhere", AudioRing(), AudioRing())
    with pytest.raises(SoundCardError, match="no sound card 'no such card anywhere'.*available: .*system"):
        line.start()
    line.close()                    # nothing opened: still safe


# -- the resamplers on their own (no card) ----------------------------------

def decimate(x: np.ndarray, gain: float = 1.0, blocks=(1024, 1000, 7, 1031, 500)) -> np.ndarray:
    down, out, i, k = Decimator(6, gain), [], 0, 0
    while i < len(x):
        n = blocks[k % len(blocks)]
        out.append(np.array(down.process(array("f", x[i:i + n].astype(np.float32).tobytes()))))
        i, k = i + n, k + 1
    return np.concatenate(out)


def interpolate(x: np.ndarray, frames=(1024, 1023, 7, 2048)) -> np.ndarray:
    up, out, i, k = Interpolator(6), [], 0, 0
    while True:
        need = up.needed(frames[k % len(frames)])
        if i + need > len(x):
            return np.concatenate(out)
        out.append(np.array(up.run(frames[k % len(frames)], array("h", x[i:i + need].astype(np.int16).tobytes()))))
        i, k = i + need, k + 1


def test_resamplers_are_the_filter_they_claim_whatever_the_block_sizes():
    taps = np.array(lowpass_taps(6))
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(48000) * 0.2).astype(np.float32)
    # Decimator: the filter over the card's samples, every 6th output, x32768.
    full = np.convolve(np.concatenate([np.zeros(len(taps) - 1), x]).astype(float), taps)
    expected = np.round(full[len(taps) - 1::6] * 32768)[:8000]
    assert np.array_equal(decimate(x), expected)
    # Interpolator: zero-stuffed line samples through the same filter, x6.
    line = (rng.standard_normal(8000) * 3000).astype(np.int16)
    got = interpolate(line)
    stuffed = np.zeros(len(line) * 6)
    stuffed[::6] = line
    assert np.allclose(got, (np.convolve(stuffed, taps * 6) / 32768)[:len(got)], atol=1e-6)


def tone(freq: float, rate: int, seconds: float = 1.0, level: float = 0.25) -> np.ndarray:
    return level * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


def level_db(x: np.ndarray, freq: float, rate: int) -> float:
    # Amplitude of one frequency (a single DFT bin), in dB of full scale.
    t = np.arange(len(x)) / rate
    return 20 * np.log10(2 * abs(np.dot(x, np.exp(-2j * np.pi * freq * t))) / len(x) + 1e-12)


def test_resamplers_pass_the_voice_band_and_stop_what_would_alias():
    ref = 20 * np.log10(0.25)
    for freq, lowest in ((300, -0.5), (1000, -0.5), (3000, -1.0), (3400, -2.5)):
        down = decimate(tone(freq, 48000)) / 32768
        assert level_db(down[100:], freq, 8000) - ref > lowest, freq
        up = interpolate(np.round(tone(freq, 8000) * 32767))
        assert level_db(up[600:], freq, 48000) - ref > lowest, freq
    # A 5 kHz tone on the card would fold onto 3 kHz at 8 kHz; a 3 kHz tone
    # from the line has its first image at 5 kHz on the card.
    alias = decimate(tone(5000, 48000)) / 32768
    assert level_db(alias[100:], 3000, 8000) - ref < -20
    image = interpolate(np.round(tone(3000, 8000) * 32767))
    assert level_db(image[600:], 5000, 48000) - ref < -20


def test_input_gain_clips_at_full_scale_instead_of_wrapping():
    loud = tone(1000, 48000, level=0.5)
    out = decimate(loud, gain=4.0)            # 2x full scale
    assert out.max() == 32767 and out.min() == -32768
    assert np.mean(np.abs(out[100:]) == 32767 + (out[100:] < 0)) > 0.3     # flattened tops, no wrap-around


VANISH = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from firmware.hw.soundcard import SoundCardLine, line_rings
    reported = threading.Event()
    errors = []
    def on_error(err):
        errors.append(err)
        reported.set()
    line = SoundCardLine("system", *line_rings(), on_error=on_error)
    line.start()
    deadline = time.monotonic() + 5
    while line.callbacks <= 10 and time.monotonic() < deadline:   # the stream is running
        time.sleep(0.05)
    before = line.callbacks
    os.kill(int(sys.argv[1]), signal.SIGTERM)     # the card vanishes (the server goes away)
    killed = time.monotonic()
    reported.wait(5)
    detect = time.monotonic() - killed
    t = time.monotonic()
    line.close()                                  # must come back, not hang
    print(json.dumps({"callbacks": before, "errors": [type(e).__name__ for e in errors],
                      "message": str(errors[0]) if errors else "", "detect_s": detect,
                      "close_s": time.monotonic() - t, "running": line.running}), flush=True)
    os._exit(0)                                   # PortAudio cannot terminate after its server died
""")


def test_a_vanished_card_is_reported_not_crashed(tmp_path):
    # Own jackd, own process: PortAudio never recovers from its server dying.
    server = JackServer(tmp_path).start()
    try:
        env = dict(os.environ, JACK_DEFAULT_SERVER=server.name)
        out = subprocess.run([sys.executable, "-c", VANISH, str(server.proc.pid)], capture_output=True, text=True,
                             timeout=25, cwd=ROOT, env=env)
        report = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    assert report["callbacks"] > 10, report
    assert report["errors"] == ["SoundCardError"], (report, out.stderr[-2000:])
    assert "no audio from the card" in report["message"] or "stopped by itself" in report["message"], report
    assert report["detect_s"] < 2.5 and report["close_s"] < 5 and not report["running"], report
