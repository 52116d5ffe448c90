"""A bounded byte ring between an audio thread and pjsua's clock thread.

One side writes 20 ms frames as they come from the line (modem PCM port or
sound card), the other reads exactly one frame per pjsua clock tick. The
two clocks drift, so the buffer keeps its fill near a target: when it runs
dry the reader gets silence (an underrun, counted); when it overfills the
oldest audio is dropped (an overrun, counted), which bounds the added
latency. Thread-safe; no pjsua2 here.
"""
from __future__ import annotations

import threading

FRAME_BYTES = 320          # 20 ms of S16LE mono at 8 kHz


class AudioRing:
    """
    :param max_ms: the most audio held; older audio is dropped beyond it.
    """

    def __init__(self, max_ms: int = 120):
        self.capacity = max_ms * 16       # 16 bytes per ms at 8 kHz, 16-bit
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.underruns = 0
        self.overruns = 0
        self.gain = 1.0

    def write(self, data: bytes) -> None:
        with self._lock:
            self._buf += data
            excess = len(self._buf) - self.capacity
            if excess > 0:
                excess += excess % 2          # keep sample alignment
                del self._buf[:excess]
                self.overruns += 1

    def read(self, size: int = FRAME_BYTES) -> bytes:
        with self._lock:
            if len(self._buf) < size:
                self.underruns += 1
                data = bytes(self._buf) + b"\x00" * (size - len(self._buf))
                self._buf.clear()
                return data
            data = bytes(self._buf[:size])
            del self._buf[:size]
            return data

    def level_ms(self) -> float:
        with self._lock:
            return len(self._buf) / 16
