"""Latency and CPU cost of one sound-card line, on JACK's dummy driver.

Starts a private ``jackd --no-realtime -d dummy -r 48000 -p 1024`` (so the
line resamples 48 kHz <-> 8 kHz, as it would on a card without 8 kHz), and
a thread standing in for pjsua's clock: every 20 ms it writes a frame into
``from_pbx`` and reads one from ``to_pbx``. The stream's JACK output port is
wired to its own input port.

Prints:
- latency: from a sample written into ``from_pbx`` to the same sample read
  from ``to_pbx``, found by cross-correlation (at 1/6-sample resolution)
  after the rings settled. That is the whole loop as pjsua would see it:
  both rings, the JACK period, both filters. It is two line crossings, not
  one: a caller's voice only crosses ``to_pbx`` (ring + card input), the
  box's voice only ``from_pbx`` (ring + card output). Ring fills are
  printed too, so the parts can be told apart.
- CPU: ``time.process_time()`` of this process (every thread: the JACK
  callback thread, the clock thread) over a fixed time, with the clock
  thread alone and with the line running; the difference is the line's
  share of one core. jackd's own CPU (another process) is printed apart.
- the cost of the pieces: resampler and ring operations, per second of audio.

Bounded: about 25 s with the defaults. Usage:
    .venv/bin/python bench/soundcard.py [--seconds 8]
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from audio import RATE, noise_signal  # noqa: E402
from firmware.core.ringbuffer import FRAME_BYTES, AudioRing  # noqa: E402

JACK_RATE, PERIOD = 48000, 1024
PREROLL_S = 3.0


class Jack:
    def __init__(self):
        self.name = f"smallpbx-bench-{os.getpid()}-{secrets.token_hex(3)}"
        self.proc = None

    def __enter__(self) -> Jack:
        if not shutil.which("jackd"):
            sys.exit("jackd is not installed (Debian package jackd2)")
        self.proc = subprocess.Popen(["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", str(JACK_RATE),
                                      "-p", str(PERIOD), "-C", "1", "-P", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "5"], capture_output=True).returncode:
            self.__exit__()
            sys.exit("jackd did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        for leftover in Path("/dev/shm").glob(f"*{self.name}*"):
            leftover.unlink(missing_ok=True)

    def loop_back(self) -> None:
        ports = subprocess.run(["jack_lsp", "-s", self.name], capture_output=True, text=True).stdout.split()
        out = next(p for p in ports if p.startswith("PortAudio:out_"))
        inp = next(p for p in ports if p.startswith("PortAudio:in_"))
        subprocess.run(["jack_connect", "-s", self.name, out, inp], check=True)
        subprocess.run(["jack_disconnect", "-s", self.name, "system:capture_1", inp], check=True)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock(threading.Thread):
    """pjsua's clock: a 20 ms frame each way per tick, on a monotonic schedule."""

    def __init__(self, to_pbx: AudioRing, from_pbx: AudioRing, source: bytes):
        super().__init__(daemon=True)
        self.to_pbx, self.from_pbx, self.source = to_pbx, from_pbx, source
        self.heard = bytearray()
        self.fills: list[tuple[float, float]] = []    # (from_pbx after write, to_pbx before read)
        self.stopping = threading.Event()
        self.ticks = 0

    def run(self) -> None:
        start = time.monotonic()
        while not self.stopping.wait(max(0.0, start + self.ticks * 0.02 - time.monotonic())):
            frame = self.source[self.ticks * FRAME_BYTES:(self.ticks + 1) * FRAME_BYTES]
            self.from_pbx.write(frame + b"\x00" * (FRAME_BYTES - len(frame)))
            after_write = self.from_pbx.level_ms()
            self.fills.append((after_write, self.to_pbx.level_ms()))
            self.heard += self.to_pbx.read(FRAME_BYTES)
            self.ticks += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def fine_lag(reference: np.ndarray, recorded: np.ndarray, max_lag_s: float, factor: int = 6) -> tuple[float, float]:
    """Normalised cross-correlation peak and its lag, at 1/factor-sample steps."""
    def up(x):
        spectrum = np.zeros(len(x) * factor // 2 + 1, dtype=complex)
        head = np.fft.rfft(x)
        spectrum[:len(head)] = head
        return np.fft.irfft(spectrum, len(x) * factor) * factor
    seg = recorded[:len(reference) + int(max_lag_s * RATE)]
    ref, rec = up(reference), up(seg)
    n = len(ref) + len(rec)
    corr = np.fft.irfft(np.fft.rfft(rec, n) * np.conj(np.fft.rfft(ref, n)), n)[:len(rec) - len(ref) + 1]
    energy = np.concatenate([[0.0], np.cumsum(rec ** 2)])
    norm = corr / np.sqrt(np.dot(ref, ref) * np.maximum(energy[len(ref):] - energy[:-len(ref)], 1e-12))
    best = int(np.argmax(norm))
    return float(norm[best]), best / (RATE * factor)


def measure_latency(jack: Jack, seconds: float) -> None:
    from firmware.hw.soundcard import SoundCardLine, line_rings
    signal = noise_signal(seconds, seed=7)
    source = b"\x00" * int(PREROLL_S * RATE) * 2 + (np.round(signal * 32767)).astype("<i2").tobytes()
    to_pbx, from_pbx = line_rings()
    clock = Clock(to_pbx, from_pbx, source)
    clock.start()
    line = SoundCardLine("system", to_pbx, from_pbx)
    line.start()
    try:
        jack.loop_back()
        time.sleep(PREROLL_S + seconds + 0.3)
    finally:
        clock.stop()
        line.close()
    heard = np.frombuffer(bytes(clock.heard), dtype="<i2")[int(PREROLL_S * RATE):] / 32768.0
    # Half-second windows, each with its own lag: a drift slip (one sample)
    # inside a long window would blur its correlation peak.
    found = [fine_lag(signal[a:a + RATE // 2], heard[a:], max_lag_s=0.4) for a in range(0, 2 * RATE, RATE // 2)]
    lags = sorted(lag for peak, lag in found if peak > 0.9)
    peak, lag = (max(p for p, _ in found), lags[len(lags) // 2]) if lags else (max(p for p, _ in found), float("nan"))
    settled = clock.fills[int(PREROLL_S / 0.02):]
    from_fill = sum(f for f, _ in settled) / len(settled)
    to_fill = sum(t for _, t in settled) / len(settled)
    filters_ms = 2 * (48 - 1) / 2 / JACK_RATE * 1000
    period_ms = PERIOD / JACK_RATE * 1000
    # A sample written at the start of pjsua's frame waits behind the rest
    # of from_pbx (its fill less its own 20 ms frame), one JACK period in the
    # loop, the two filters' delay, then behind to_pbx's fill at the read.
    parts = from_fill - 20 + period_ms + filters_ms + to_fill
    print(f"loop_latency_ms {lag * 1000:.1f} (median of {len(lags)}/{len(found)} half-second windows found,"
          f" best correlation {peak:.3f}, after {PREROLL_S:.0f} s of settling)")
    print(f"  parts: from_pbx fill after pjsua's write {from_fill:.1f} ms - its own 20 ms frame"
          f" + JACK period {period_ms:.1f} ms + resampler filters {filters_ms:.1f} ms"
          f" + to_pbx fill before pjsua's read {to_fill:.1f} ms = {parts:.1f} ms")
    print(f"  card rate {line.rate} Hz, callbacks {line.callbacks}, late {line.late_callbacks}, xruns {line.xruns},"
          f" longest gap {line.max_gap_s * 1000:.1f} ms, longest callback {line.max_callback_s * 1000:.2f} ms"
          f" ({line.max_callback_cpu_s * 1000:.2f} ms CPU)")
    print(f"  rings: to_pbx slips {to_pbx.drops}/{to_pbx.repeats} (drop/repeat) underruns {to_pbx.underruns}, "
          f"from_pbx slips {from_pbx.drops}/{from_pbx.repeats} underruns {from_pbx.underruns}")


def measure_cpu(jack: Jack, seconds: float) -> None:
    from firmware.hw.soundcard import SoundCardLine, line_rings
    source = (np.round(noise_signal(seconds + 1, seed=8) * 32767)).astype("<i2").tobytes()

    def run(with_line: bool) -> tuple[float, float, float]:
        to_pbx, from_pbx = line_rings()
        clock = Clock(to_pbx, from_pbx, source)
        clock.start()
        line = SoundCardLine("system", to_pbx, from_pbx) if with_line else None
        if line:
            line.start()
            jack.loop_back()
        time.sleep(0.5)
        cpu0, wall0, jack0 = time.process_time(), time.monotonic(), jack.cpu_s()
        time.sleep(seconds)
        cpu, wall, jcpu = time.process_time() - cpu0, time.monotonic() - wall0, jack.cpu_s() - jack0
        clock.stop()
        if line:
            line.close()
        return cpu / wall * 100, jcpu / wall * 100, wall

    idle, jack_idle, _ = run(False)
    busy, jack_busy, _ = run(True)
    print(f"soundcard_line_cpu_percent_of_one_core {busy - idle:.2f} (clock thread alone {idle:.2f}%, "
          f"with the line {busy:.2f}%, over {seconds:.0f} s)")
    print(f"  jackd itself: {jack_idle:.2f}% idle, {jack_busy:.2f}% with the line's client")


def measure_pieces() -> None:
    from firmware.hw.soundcard import Decimator, Interpolator
    block = array("f", (np.random.default_rng(1).standard_normal(PERIOD) * 0.1).astype(np.float32).tobytes())
    pcm = array("h", (np.random.default_rng(2).standard_normal(200) * 3000).astype(np.int16).tobytes())
    for factor in (6, 1):
        down, up = Decimator(factor), Interpolator(factor)
        frames = PERIOD if factor == 6 else PERIOD // 6
        blk = block if factor == 6 else block[:frames]
        n, t = 300, time.process_time()
        for _ in range(n):
            down.process(blk)
            up.run(frames, pcm[:up.needed(frames)])
        per_audio_s = (time.process_time() - t) / (n * frames / (RATE * factor))
        print(f"resampler_both_ways_percent factor {factor} ({RATE * factor} Hz): {per_audio_s * 100:.2f}% of a core")
    frame = (np.round(noise_signal(0.02, seed=3) * 32767)).astype("<i2").tobytes()
    for label, ring in (("plain", AudioRing(120)), ("drift-corrected", AudioRing(120, target_ms=50)),
                        ("drift-corrected +6 dB", AudioRing(120, target_ms=50, gain_db=6))):
        n, t = 5000, time.process_time()
        for i in range(n):
            ring.write(frame)
            ring.read(FRAME_BYTES + (2 if i % 4 else 0))     # a reader slightly fast: slips happen
        us = (time.process_time() - t) / n * 1e6
        print(f"ring_write_read_us {label}: {us:.1f} per 20 ms frame ({us * 50 / 1e4:.3f}% of a core)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0, help="each CPU run (two of them)")
    args = parser.parse_args()
    seconds = min(args.seconds, 10.0)          # keep the whole run bounded
    with Jack() as jack:
        os.environ["JACK_DEFAULT_SERVER"] = jack.name
        from firmware.hw.soundcard import refresh_devices
        refresh_devices()
        try:
            measure_latency(jack, 3.0)
            measure_cpu(jack, seconds)
        finally:
            os.environ.pop("JACK_DEFAULT_SERVER")
            refresh_devices()                  # PortAudio leaves the server before it stops
    measure_pieces()
    return 0


if __name__ == "__main__":
    sys.exit(main())
