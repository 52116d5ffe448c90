"""The SIM7600's voice PCM port, emulated on a second pty.

On the real module, once ``AT+CPCMREG=1`` is given during a call, the
call's audio flows over a second USB serial port as raw S16LE mono 8 kHz
samples, 320 bytes per 20 ms frame, in both directions. This module owns
that second port: the pty pair, the caller's queued audio, what the box
sent back (``captured_audio``), and the one thread pacing the stream.

It knows nothing of AT commands or calls: the emulator switches it with
:meth:`PcmPort.set_streaming` when ``AT+CPCMREG`` or the call state
changes. While streaming, every 20 ms tick of a monotonic schedule writes
one frame (queued caller audio, or silence) and moves whatever the box
wrote into ``captured_audio``; late ticks are caught up back to back, so
the stream does not drift. While not streaming, nothing is written and the
box's bytes are read and thrown away (counted in ``discarded_bytes``), as
the module drops audio nobody has switched on.

Threads and locks: the PCM thread is the only one reading or writing the
pty. ``_lock`` guards the streaming flag, the queued caller audio, the
counters and ``captured_audio``; it is held only around non-blocking reads
and writes, never across a wait. Callers may hold the emulator's lock when
they call in (order: emulator ``_lock`` -> PCM ``_lock``); the PCM thread
never takes the emulator's lock. Once ``set_streaming(False)`` returns,
no further frame is written and no further byte is captured.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time

from firmware.sim.pty_server import close_fds, open_raw_pty, poke, write_pending

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000                      # Hz, mono, S16LE
FRAME_SECONDS = 0.020
FRAME_BYTES = 320                       # 160 samples x 2 bytes
MAX_PENDING = 10 * FRAME_BYTES          # unwritten audio kept when the box reads too slowly
MAX_LAG = 1.0                           # s behind schedule before giving up catching up
SILENCE = bytes(FRAME_BYTES)


class PcmPort:
    """One emulated PCM audio port.

    :param name: the thread's name.
    """

    def __init__(self, name: str = "modem-pcm"):
        self.name = name
        self.path: str | None = None
        self.captured_audio = bytearray()   # what the box sent while streaming
        self.discarded_bytes = 0            # what the box sent at other times
        self.frames_sent = 0
        self.dropped_frames = 0             # frames the box was too slow to take
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._streaming = False
        self._caller = bytearray()          # queued far-end audio
        self._pending = bytearray()         # a frame the pty did not take whole
        self._thread: threading.Thread | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        """Open the pty and start the thread.

        :returns: the slave's path, for ``serial.Serial(path)``.
        """
        self._master, self._slave, self.path = open_raw_pty()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self.path

    def close(self) -> None:
        """Stop the stream and the thread, close the pty. Safe to call twice."""
        with self._lock:
            self._streaming = False
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        fds = (self._master, self._slave, self._wake_r, self._wake_w)
        self._master = self._slave = self._wake_r = self._wake_w = None
        close_fds(*fds)

    # -- control (any thread) ---------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        with self._lock:
            return self._streaming

    def set_streaming(self, on: bool) -> None:
        """Start or stop the frames; takes effect before this returns."""
        with self._lock:
            if on == self._streaming or (on and self._stop.is_set()):
                return
            self._streaming = on
            if not on:
                self._pending.clear()
        log.debug("PCM stream %s", "on" if on else "off")
        self._wake()

    def play(self, samples: bytes) -> None:
        """Queue what the far-end caller says: S16LE mono 8 kHz."""
        data = bytes(samples)
        if len(data) % 2:
            raise ValueError(f"S16LE audio has an even number of bytes, not {len(data)}")
        with self._lock:
            self._caller += data

    def drop_caller_audio(self) -> None:
        """Forget queued caller audio (the caller is gone)."""
        with self._lock:
            self._caller.clear()

    # -- the PCM thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.streaming:
                self._stream()
            else:
                self._idle()

    def _idle(self) -> None:
        """Not streaming: block until the box writes (thrown away) or we are woken."""
        try:
            readable, _, _ = select.select([self._master, self._wake_r], [], [])
        except (OSError, ValueError, TypeError):      # closed under us
            self._stop.set()
            return
        if self._wake_r in readable:
            try:
                os.read(self._wake_r, 4096)
            except OSError:
                pass
        if self._master in readable:
            with self._lock:
                self._read_available()

    def _stream(self) -> None:
        """One frame per 20 ms tick of a monotonic schedule until switched off."""
        next_tick = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                if not self._streaming:
                    return
                self._read_available()
                self._send_frame()
            next_tick += FRAME_SECONDS
            lag = time.monotonic() - next_tick
            if lag > MAX_LAG:
                log.warning("PCM stream %.2f s behind; skipping ahead", lag)
                next_tick += lag
            self._stop.wait(max(0.0, -lag))

    def _read_available(self) -> None:
        """Everything the box has written so far; under ``_lock``."""
        while self._master is not None:
            try:
                data = os.read(self._master, 65536)
            except BlockingIOError:
                return
            except OSError:                 # EIO: the slave is not open anywhere
                return
            if not data:
                return
            if self._streaming:
                self.captured_audio += data
            else:
                self.discarded_bytes += len(data)

    def _send_frame(self) -> None:
        """The next 20 ms of caller audio (padded with silence); under ``_lock``."""
        frame = bytes(self._caller[:FRAME_BYTES])
        del self._caller[:FRAME_BYTES]
        if len(self._pending) + FRAME_BYTES > MAX_PENDING:
            self.dropped_frames += 1        # the box is not reading: the frame is lost
        else:
            self._pending += frame + SILENCE[len(frame):]
            self.frames_sent += 1
        write_pending(self._master, self._pending)

    def _wake(self) -> None:
        poke(self._wake_w)
