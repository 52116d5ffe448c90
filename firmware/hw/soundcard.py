"""A phone line whose audio is a sound card (an FXO hat, a USB adapter).

:class:`SoundCardLine` opens one duplex PortAudio stream through the
``sounddevice`` package and moves audio between the stream's callback and
the line's two :class:`~firmware.core.ringbuffer.AudioRing` s: what the card
captures goes to ``to_pbx`` (read by pjsua's clock), what pjsua wrote to
``from_pbx`` goes to the card's playback. The rings are S16LE mono 8 kHz;
the stream is float32 at 8 kHz when the card allows it, else at a multiple
of 8 kHz (JACK runs at its own rate, typically 48 kHz) with a polyphase
low-pass resampler between the two. The two clocks drift; the rings
correct that (:func:`line_rings` makes a pair with the right target).

Cost, measured by ``bench/soundcard.py`` on an x86 core: ~5 % of one core
for a line at 48 kHz, 3.7 % of it the pure-Python resampler (both ways,
48 taps); at 8 kHz the resampler is 0.2 %. ``taps_per_phase`` trades
filter sharpness for CPU (6: ~2.7 %).

Wiring of an FXO hat: the hat's codec appears as an ALSA card; its capture
is the line's voice towards the box, its playback is the box's voice
towards the line. ``device`` is the PortAudio name (or part of it, e.g.
``"hw:1,0"`` or ``"USB Audio"``) or index; ``channel`` picks one channel of
a stereo-only codec.

Threads: the stream callback runs on PortAudio's audio thread (for JACK,
JACK's process thread) and touches only the rings, the resamplers and the
counters. A watchdog thread notices a stream that stopped calling back (the
device vanished, the JACK server died) and reports it once, as a
:class:`SoundCardError`, to ``on_error``. No pjsua2 here.

PortAudio's JACK host API exists only if a JACK server was running when
PortAudio was initialised (``import sounddevice``); it connects to the
server named by ``$JACK_DEFAULT_SERVER`` (else ``default``). After a
server died under an open stream, PortAudio 19.6 hangs in ``Pa_StopStream``,
``Pa_CloseStream`` and ``Pa_Terminate``: such a stream is abandoned, not
closed, and a process that used it should leave with ``os._exit``.
"""
from __future__ import annotations

import logging
import math
import sys
import threading
import time
from array import array
from itertools import repeat
from operator import add, mul
from typing import Callable

from firmware.core.ringbuffer import AudioRing
from firmware.errors import SmallPbxError

log = logging.getLogger(__name__)

LINE_RATE = 8000
# Rates tried when the card refuses 8 kHz, best first: the resampler needs
# a whole multiple of 8 kHz.
RATE_MULTIPLES = (16000, 48000, 32000, 24000, 96000)
# The rings' fill before a read swings by one card period (~21 ms) plus
# callback jitter (±4 ms measured on JACK's dummy), on top of pjsua's 20 ms
# frame: 50 ms keeps a frame of headroom whatever phase play starts in.
RING_TARGET_MS = 50
RING_MAX_MS = 120
STALL_S = 1.0              # no callback for this long: the device is gone
CLOSE_WAIT_S = 2.0         # a stop/close that takes longer is abandoned

_BIG_ENDIAN = sys.byteorder == "big"


class SoundCardError(SmallPbxError, OSError):
    """The line's sound card is missing, refused the stream, or vanished."""


# -- resampling -------------------------------------------------------------

def _bessel_i0(x: float) -> float:
    total, term, k = 1.0, 1.0, 1
    while term > 1e-12 * total:
        term *= (x / (2 * k)) ** 2
        total += term
        k += 1
    return total


def lowpass_taps(factor: int, taps_per_phase: int = 8, cutoff_hz: float = 4000.0, beta: float = 4.0) -> list[float]:
    """Kaiser-windowed sinc low-pass at ``factor`` × 8 kHz, DC gain 1.

    With 8 taps a phase at 48 kHz (48 taps): -0.4 dB at 3 kHz, -1.7 dB at
    3.4 kHz; -15 dB at 4.6 kHz (what would fold onto 3.4 kHz), -25 dB from
    5 kHz on. A factor of 1 needs no filter.
    """
    if factor == 1:
        return [1.0]
    n = factor * taps_per_phase
    fc = cutoff_hz / (LINE_RATE * factor)
    taps = []
    for i in range(n):
        m = i - (n - 1) / 2
        sinc = 2 * fc if m == 0 else math.sin(2 * math.pi * fc * m) / (math.pi * m)
        window = _bessel_i0(beta * math.sqrt(1 - (2 * i / (n - 1) - 1) ** 2)) / _bessel_i0(beta)
        taps.append(sinc * window)
    total = sum(taps)
    return [t / total for t in taps]


def _weighted_sum(pairs) -> map:
    """Σ tap × samples over (tap, samples) pairs, lazily, one C-level pass a tap."""
    acc = None
    for tap, samples in pairs:
        term = map(mul, repeat(tap), samples)
        acc = term if acc is None else map(add, acc, term)
    return acc


def _to_int16(values) -> array:
    rounded = list(map(round, values))
    try:
        return array("h", rounded)
    except OverflowError:          # clipping is rare: pay for it only then
        return array("h", map(max, repeat(-32768), map(min, repeat(32767), rounded)))


class Decimator:
    """Card rate (float samples) → 8 kHz int16, low-pass first; keeps state across blocks.

    :param factor: card rate / 8000.
    :param gain: linear level applied on the way (the float → int16 scale is folded in).
    """

    def __init__(self, factor: int, gain: float = 1.0, taps_per_phase: int = 8):
        self.factor = factor
        self._h = lowpass_taps(factor, taps_per_phase)
        self._z = array("f", bytes(4 * (len(self._h) - 1)))     # history: starts silent
        self.set_gain(gain)

    def set_gain(self, gain: float) -> None:
        # The filter is symmetric: pair tap j with tap n-1-j, half the multiplies.
        n = len(self._h)
        scaled = [t * gain * 32768 for t in self._h]
        pairs = [(scaled[j], j, n - 1 - j) for j in range(n // 2)]
        self._plan = (pairs, scaled[n // 2] if n % 2 else None, n)     # swapped whole: thread-safe

    def process(self, x: array) -> array:
        pairs, middle, n = self._plan
        r = self.factor
        z = self._z + x
        count = (len(z) - n) // r + 1 if len(z) >= n else 0
        if count <= 0:
            self._z = z
            return array("h")
        end = (count - 1) * r + 1
        terms = [(tap, map(add, z[a:a + end:r], z[b:b + end:r])) for tap, a, b in pairs]
        if middle is not None:
            terms.append((middle, z[n // 2:n // 2 + end:r]))
        out = _to_int16(_weighted_sum(terms))
        self._z = z[count * r:]
        return out


class Interpolator:
    """8 kHz int16 → card rate (float samples), polyphase low-pass; keeps state.

    Hands out exactly the frames a callback needs: :meth:`needed` says how
    many 8 kHz samples to fetch, :meth:`run` returns ``frames`` samples and
    keeps the few left over for the next call.
    """

    def __init__(self, factor: int, gain: float = 1.0, taps_per_phase: int = 8):
        self.factor = factor
        self._h = lowpass_taps(factor, taps_per_phase)
        self._k = len(self._h) // factor
        self._z = array("h", bytes(2 * (self._k - 1)))
        self._pending = array("f")
        self.set_gain(gain)

    def set_gain(self, gain: float) -> None:
        # Zero-stuffing loses a factor of ``factor`` in level: put it back.
        scale = gain * self.factor / 32768
        r, k = self.factor, self._k
        self._phases = [[self._h[p + q * r] * scale for q in range(k)] for p in range(r)]

    def needed(self, frames: int) -> int:
        return max(0, -(-(frames - len(self._pending)) // self.factor))

    def run(self, frames: int, pcm: array) -> array:
        if pcm:
            self._pending.extend(self._process(pcm))
        out = self._pending[:frames]
        del self._pending[:frames]
        return out

    def _process(self, x: array) -> array:
        phases, r, k = self._phases, self.factor, self._k
        z = self._z + x
        count = len(x)
        out = array("f", bytes(4 * count * r))
        for p, taps in enumerate(phases):
            out[p::r] = array("f", _weighted_sum((taps[q], z[k - 1 - q:k - 1 - q + count]) for q in range(k)))
        self._z = z[len(z) - (k - 1):] if k > 1 else array("h")
        return out


# -- the line -----------------------------------------------------------------

def line_rings(target_ms: float = RING_TARGET_MS, max_ms: int = RING_MAX_MS) -> tuple[AudioRing, AudioRing]:
    """``(to_pbx, from_pbx)`` sized and drift-corrected for a sound-card line."""
    return AudioRing(max_ms, target_ms=target_ms), AudioRing(max_ms, target_ms=target_ms)


def refresh_devices(backend=None) -> None:
    """Re-initialise PortAudio so it sees devices (and JACK servers) started since.

    Only while no stream is open: PortAudio closes every stream it has.
    """
    sd = backend or _sounddevice()
    sd._terminate()
    sd._initialize()


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:        # libportaudio2 missing
        raise SoundCardError(f"PortAudio is not available: {exc}") from exc
    return sounddevice


class SoundCardLine:
    """
    :param device: PortAudio device name (space-separated parts of
        "name, host API", as ``sounddevice`` matches them) or index.
    :param to_pbx: ring the captured audio goes to (pjsua reads it).
    :param from_pbx: ring the playback comes from (pjsua writes it).
    :param input_gain_db: level of the captured audio, clipped to int16.
    :param output_gain_db: level of the played audio.
    :param channels: channels to open (a stereo-only codec needs 2).
    :param channel: the channel that carries the line.
    :param blocksize: frames per callback, 0 = what the host prefers.
    :param latency: PortAudio's buffering, ``"low"``, ``"high"`` or seconds.
        High by default: the callback is Python and may wait a few ms for
        the GIL, which ALSA's low-latency buffers (~9 ms) would not cover.
        JACK ignores it (its period is the buffer).
    :param taps_per_phase: resampler filter length (cost ∝ taps).
    :param on_error: called once with a :class:`SoundCardError` from the
        watchdog thread when the stream dies under the line.
    :param backend: the ``sounddevice`` module or a stand-in.
    """

    def __init__(self, device: str | int, to_pbx: AudioRing, from_pbx: AudioRing, *,
                 input_gain_db: float = 0.0, output_gain_db: float = 0.0, channels: int = 1, channel: int = 0,
                 blocksize: int = 0, latency: str | float = "high", taps_per_phase: int = 8, stall_s: float = STALL_S,
                 on_error: Callable[[SoundCardError], None] | None = None, backend=None):
        if not 0 <= channel < channels:
            raise ValueError(f"channel {channel} is not one of the {channels} opened")
        self.device = device
        self.to_pbx = to_pbx
        self.from_pbx = from_pbx
        self.channels = channels
        self.channel = channel
        self.blocksize = blocksize
        self.latency = latency
        self.taps_per_phase = taps_per_phase
        self.stall_s = stall_s
        self.on_error = on_error
        self._backend = backend
        self._input_gain_db = input_gain_db
        self._output_gain_db = output_gain_db
        self.rate: int | None = None          # the card's rate once started
        self.device_name: str | None = None
        self.error: SoundCardError | None = None
        self.callbacks = 0
        self.frames = 0                       # card frames each way
        self.samples_in = 0                   # 8 kHz samples written to to_pbx
        self.samples_out = 0                  # 8 kHz samples taken from from_pbx
        self.xruns = 0                        # callbacks that reported an over/underflow
        self.late_callbacks = 0               # callbacks half a block late or more (host stalled us)
        self.max_gap_s = 0.0                  # longest time between two callbacks (scheduling)
        self.max_callback_s = 0.0             # longest wall time in one callback (incl. waits for the GIL/CPU)
        self.max_callback_cpu_s = 0.0         # longest CPU time of one callback: our own cost
        self._sd = backend
        self._stream = None
        self._down: Decimator | None = None
        self._up: Interpolator | None = None
        self._last_callback = 0.0
        self._callback_error: BaseException | None = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    # -- levels ---------------------------------------------------------------

    @property
    def input_gain_db(self) -> float:
        return self._input_gain_db

    @input_gain_db.setter
    def input_gain_db(self, db: float) -> None:
        self._input_gain_db = db
        if self._down:
            self._down.set_gain(10 ** (db / 20))

    @property
    def output_gain_db(self) -> float:
        return self._output_gain_db

    @output_gain_db.setter
    def output_gain_db(self, db: float) -> None:
        self._output_gain_db = db
        if self._up:
            self._up.set_gain(10 ** (db / 20))

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        """Open the card and start moving audio; raises :class:`SoundCardError`.

        After a failure (``error`` set), ``close()`` and ``start()`` again to reopen.
        """
        if self._stream is not None:
            return
        sd = self._sd = self._backend or _sounddevice()
        index = self._find_device(sd)
        self.rate = self._pick_rate(sd, index)
        factor = self.rate // LINE_RATE
        self._down = Decimator(factor, 10 ** (self._input_gain_db / 20), self.taps_per_phase)
        self._up = Interpolator(factor, 10 ** (self._output_gain_db / 20), self.taps_per_phase)
        self.error = self._callback_error = None
        try:
            self._stream = sd.RawStream(device=index, samplerate=self.rate, channels=self.channels,
                                        dtype="float32", blocksize=self.blocksize, latency=self.latency,
                                        dither_off=True, callback=self._callback)
            self._last_callback = time.monotonic()
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._abandon_or_close()
            raise SoundCardError(f"sound card {self.device_name!r} refused the stream: {exc}") from exc
        self._stopping.clear()
        self._watchdog = threading.Thread(target=self._watch, name=f"soundcard-{self.device}", daemon=True)
        self._watchdog.start()
        log.info("sound card %r running at %d Hz, %s frames a block", self.device_name, self.rate,
                 self._stream.blocksize or "host-chosen")

    def stop(self) -> None:
        """Stop and close the stream (a dead one is abandoned, see the module notes)."""
        self._stopping.set()
        if self._watchdog and self._watchdog is not threading.current_thread():
            self._watchdog.join()
        self._watchdog = None
        self._abandon_or_close()

    close = stop      # the stream is opened by start(); close() is safe twice

    def __enter__(self) -> SoundCardLine:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._stream is not None and self.error is None

    # -- internals ------------------------------------------------------------

    def _find_device(self, sd) -> int:
        try:
            devices = sd.query_devices()
        except sd.PortAudioError as exc:
            raise SoundCardError(f"PortAudio cannot list sound cards: {exc}") from exc
        try:
            info = sd.query_devices(self.device)
        except (ValueError, sd.PortAudioError) as exc:
            names = "; ".join(f"[{i}] {d['name']}" for i, d in enumerate(devices)) or "none"
            raise SoundCardError(f"no sound card {self.device!r} ({exc}); available: {names}") from exc
        self.device_name = info["name"]
        for kind in ("input", "output"):
            if info[f"max_{kind}_channels"] < self.channels:
                raise SoundCardError(f"sound card {info['name']!r} has {info[f'max_{kind}_channels']} "
                                     f"{kind} channels, the line needs {self.channels}")
        return info["index"]

    def _pick_rate(self, sd, index: int) -> int:
        default = int(sd.query_devices(index)["default_samplerate"])
        candidates = [LINE_RATE] + ([default] if default % LINE_RATE == 0 else []) + list(RATE_MULTIPLES)
        for rate in dict.fromkeys(candidates):
            try:
                sd.check_input_settings(device=index, channels=self.channels, dtype="float32", samplerate=rate)
                sd.check_output_settings(device=index, channels=self.channels, dtype="float32", samplerate=rate)
                return rate
            except (sd.PortAudioError, ValueError):
                continue
        raise SoundCardError(f"sound card {self.device_name!r} offers no multiple of 8000 Hz "
                             f"(its default is {default} Hz)")

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        # PortAudio's audio thread: rings, resamplers and counters only.
        try:
            now, cpu = time.monotonic(), time.thread_time()
            if self.callbacks:
                gap = now - self._last_callback
                self.max_gap_s = max(self.max_gap_s, gap)
                if gap > 1.5 * frames / self.rate:
                    self.late_callbacks += 1
            self._last_callback = now
            self.callbacks += 1
            self.frames += frames
            if status.input_overflow or status.input_underflow or status.output_overflow or status.output_underflow:
                self.xruns += 1
            captured = array("f")
            captured.frombytes(indata)
            if self.channels > 1:
                captured = captured[self.channel::self.channels]
            pcm = self._down.process(captured)
            if pcm:
                self.to_pbx.write(_le_bytes(pcm))
                self.samples_in += len(pcm)
            need = self._up.needed(frames)
            pcm = array("h")
            if need:
                pcm.frombytes(self.from_pbx.read(2 * need))
                if _BIG_ENDIAN:
                    pcm.byteswap()
                self.samples_out += need
            played = self._up.run(frames, pcm)
            if self.channels > 1:
                wide = array("f", bytes(4 * frames * self.channels))
                wide[self.channel::self.channels] = played
                played = wide
            outdata[:] = played.tobytes()
            self.max_callback_s = max(self.max_callback_s, time.monotonic() - now)
            self.max_callback_cpu_s = max(self.max_callback_cpu_s, time.thread_time() - cpu)
        except Exception as exc:       # noqa: BLE001 - reported by the watchdog, not lost in cffi
            self._callback_error = exc
            raise self._sd.CallbackAbort from exc

    def _watch(self) -> None:
        while not self._stopping.wait(self.stall_s / 4):
            stream = self._stream
            if stream is None:
                return
            if self._callback_error is not None:
                why = f"the audio callback failed: {self._callback_error!r}"
            elif not stream.active:
                why = "the stream stopped by itself (device gone?)"
            elif time.monotonic() - self._last_callback > self.stall_s:
                why = f"no audio from the card for {self.stall_s:.1f} s (device or JACK server gone?)"
            else:
                continue
            self.error = SoundCardError(f"sound card {self.device_name!r}: {why}")
            log.error("%s", self.error)
            if self.on_error:
                try:
                    self.on_error(self.error)
                except Exception:      # noqa: BLE001 - a broken handler must not kill the watchdog silently
                    log.exception("on_error handler of sound card %r failed", self.device_name)
            return

    def _abandon_or_close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        # PortAudio's JACK host API never returns from stop/close once the
        # server died: do it on a side thread and abandon it if it hangs.
        closer = threading.Thread(target=_stop_and_close, args=(stream,), name="soundcard-close", daemon=True)
        closer.start()
        closer.join(CLOSE_WAIT_S)
        if closer.is_alive():
            log.warning("sound card %r did not close within %.0f s: stream abandoned", self.device_name,
                        CLOSE_WAIT_S)


def _stop_and_close(stream) -> None:
    try:
        stream.stop()
        stream.close()
    except Exception as exc:           # noqa: BLE001 - a card that vanished may refuse both
        log.warning("closing the sound card stream failed: %s", exc)


def _le_bytes(pcm: array) -> bytes:
    if _BIG_ENDIAN:
        pcm.byteswap()
    return pcm.tobytes()
