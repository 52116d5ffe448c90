"""Moves a call's audio between a modem's PCM serial port and the line's rings.

The SIM7600 carries voice over a second USB serial port once
``AT+CPCMREG=1``: raw S16LE mono 8 kHz, 320 bytes per 20 ms, both ways.
The modem's clock paces the stream, so this pump is paced by it too: every
chunk the modem sends goes into ``to_pbx`` and the same number of bytes is
taken from ``from_pbx`` and written back. The two directions therefore
move at one rate (the modem's), and the rings absorb the drift between
the modem's clock and pjsua's.

One thread, blocking reads with a short timeout; a vanished port (USB
re-enumeration) is reopened by the pump itself every second until
:meth:`close`. No pjsua2 here.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import serial

from firmware.core.ringbuffer import AudioRing

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.05
REOPEN_EVERY_S = 1.0


class SerialPcmPump:
    """
    :param url: the PCM serial device (or any pyserial URL).
    :param to_pbx: ring the line's voice goes into (read by pjsua's clock).
    :param from_pbx: ring of what the box says to the line.
    """

    def __init__(self, url: str, to_pbx: AudioRing, from_pbx: AudioRing, *,
                 open_port: Callable[..., object] = serial.serial_for_url):
        self.url = url
        self.to_pbx = to_pbx
        self.from_pbx = from_pbx
        self.open_port = open_port
        self.bytes_in = 0
        self.bytes_out = 0
        self.reopened = 0
        self._port = None
        self._odd = b""              # half a sample left by a read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"pcm-{self.url}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._close_port()

    def _open(self) -> bool:
        try:
            self._port = self.open_port(self.url, baudrate=921600, timeout=READ_TIMEOUT_S)
            return True
        except (OSError, ValueError, serial.SerialException) as exc:
            log.warning("PCM port %s cannot be opened: %s", self.url, exc)
            return False

    def _close_port(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (OSError, serial.SerialException):
                pass
            self._port = None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._port is None and not self._open():
                self._stop.wait(REOPEN_EVERY_S)
                continue
            try:
                self.pump_once()
            except (OSError, serial.SerialException) as exc:
                log.warning("PCM port %s failed (%s); reopening", self.url, exc)
                self._close_port()
                self.reopened += 1
                self._stop.wait(REOPEN_EVERY_S)

    def pump_once(self) -> int:
        """Move what the modem sent, and as much back; returns bytes moved in."""
        data = self._port.read(max(self._port.in_waiting, 2))
        if not data:
            return 0
        data = self._odd + data
        whole = len(data) - len(data) % 2
        self._odd = data[whole:]
        data = data[:whole]
        if not data:
            return 0
        self.to_pbx.write(data)
        self._port.write(self.from_pbx.read(len(data)))
        self.bytes_in += len(data)
        self.bytes_out += len(data)
        return len(data)
