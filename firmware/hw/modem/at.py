"""The AT channel: send one command, collect its answer, pass the rest on.

A reader thread splits what the modem sends into lines. While a command is
pending, lines belong to its answer until a final result code (OK, ERROR,
+CME ERROR: n, +CMS ERROR: n); lines that match the vendor's unsolicited
patterns (RING, +CLIP, +CMTI, DTMF reports ...) go to ``on_urc`` instead,
whenever they arrive. Garbage never raises: undecodable bytes are replaced
and a command that gets no final code ends in :class:`ModemTimeout`.

Threads: ``command`` may be called from any thread (one at a time, under a
lock); ``on_urc`` runs on the reader thread and must not call ``command``
(it would wait for itself): queue follow-up work instead.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

from firmware.errors import SmallPbxError

log = logging.getLogger(__name__)

FINAL_OK = "OK"
FINAL_ERROR = re.compile(r"^(ERROR|\+CME ERROR: ?(.+)|\+CMS ERROR: ?(.+)|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE)$")
MAX_LINE = 4096


class ModemError(SmallPbxError, OSError):
    """The modem or its port failed."""


class CommandError(ModemError):
    """The modem answered a command with an error.

    :param command: the command sent.
    :param code: the final line (``ERROR``, ``+CME ERROR: 16`` ...).
    """

    def __init__(self, command: str, code: str):
        super().__init__(f"{command}: {code}")
        self.command = command
        self.code = code

    @property
    def cme(self) -> int | None:
        m = re.search(r"\+CM[ES] ERROR: ?(\d+)", self.code)
        return int(m.group(1)) if m else None


class ModemTimeout(ModemError, TimeoutError):
    """No final result code in time: the modem hangs or talks nonsense."""


def _answers(command: str, line: str) -> bool:
    """``+CPIN: READY`` answers ``AT+CPIN?`` even though it can also come unasked."""
    if not line.startswith("+") or ":" not in line:
        return False
    return command.upper().startswith("AT" + line.split(":", 1)[0].upper())


class AtChannel:
    """
    :param port: a pyserial port (``serial.serial_for_url(url)``: a device,
        a pty, ``socket://``, ``loop://``) opened with a short read timeout.
    :param is_urc: tells unsolicited lines from answers (vendor table).
    :param on_urc: called with each unsolicited line, on the reader thread.
    """

    def __init__(self, port, *, is_urc: Callable[[str], bool], on_urc: Callable[[str], None]):
        self.port = port
        self.is_urc = is_urc
        self.on_urc = on_urc
        self._lock = threading.Lock()        # one command at a time
        self._state = threading.Condition()  # guards the fields below
        self._pending: str | None = None
        self._lines: list[str] = []
        self._final: str | None = None
        self._prompt = False
        self._stop = threading.Event()
        self._resync = threading.Event()     # drop a half line a confused modem left
        self._timed_out = False
        self._thread: threading.Thread | None = None
        self.last_rx = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read_loop, name="at-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    # -- sending ---------------------------------------------------------------
    def command(self, cmd: str, timeout: float = 5.0, *, data: str | None = None) -> list[str]:
        """Send ``cmd``; return the answer lines (without echo and final code).

        ``data`` is sent after the modem's ``> `` prompt and ended with
        Ctrl-Z (AT+CMGS).
        """
        with self._lock:
            if self._timed_out:
                # After a timeout the modem may have left half a line: have the
                # reader drop it before this command's answer arrives.
                self._resync.set()
                deadline = time.monotonic() + 0.5
                while self._resync.is_set() and time.monotonic() < deadline:
                    self._stop.wait(0.01)
                self._timed_out = False
            with self._state:
                self._pending, self._lines, self._final, self._prompt = cmd, [], None, False
            try:
                self._write(cmd + "\r")
                if data is not None:
                    with self._state:
                        if not self._state.wait_for(lambda: self._prompt or self._final is not None, timeout):
                            self._timed_out = True
                            self._write("\x1b")  # Esc: abandon the text
                            raise ModemTimeout(f"{cmd}: no '>' prompt within {timeout} s")
                        if self._final is None:
                            self._write(data + "\x1a")
                with self._state:
                    if not self._state.wait_for(lambda: self._final is not None, timeout):
                        self._timed_out = True
                        raise ModemTimeout(f"{cmd}: no answer within {timeout} s")
                    final, lines = self._final, list(self._lines)
            finally:
                with self._state:
                    self._pending = None
        if final != FINAL_OK:
            raise CommandError(cmd, final)
        return lines

    def _write(self, text: str) -> None:
        try:
            self.port.write(text.encode("utf-8", errors="replace"))
            self.port.flush()
        except (OSError, ValueError) as exc:  # pyserial raises SerialException (an OSError)
            raise ModemError(f"writing to the modem failed: {exc}") from exc

    # -- receiving -------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        while not self._stop.is_set():
            if self._resync.is_set():
                buf = b""
                self._resync.clear()
            try:
                chunk = self.port.read(256)
            except (OSError, ValueError, TypeError) as exc:
                log.error("modem port read failed: %s", exc)
                self._stop.wait(1.0)  # the device vanished: the supervisor notices
                continue
            if not chunk:
                continue
            self.last_rx = time.monotonic()
            buf += chunk
            if len(buf) > MAX_LINE and b"\n" not in buf and b"\r" not in buf:
                buf = b""  # a flood without line ends is garbage
            with self._state:
                if self._pending is not None and buf.lstrip(b"\r\n").startswith(b">"):
                    self._prompt = True
                    buf = buf.lstrip(b"\r\n")[1:].lstrip(b" ")
                    self._state.notify_all()
            while True:
                m = re.search(rb"\r\n|\r|\n", buf)
                if not m:
                    break
                raw, buf = buf[:m.start()], buf[m.end():]
                line = raw.decode("utf-8", errors="replace").strip()
                if line:
                    self._line(line)

    def _line(self, line: str) -> None:
        with self._state:
            pending = self._pending
            if pending is not None and line == pending:
                return  # echo (before ATE0 took effect)
            if pending is not None and (_answers(pending, line) or not self.is_urc(line)):
                if line == FINAL_OK or FINAL_ERROR.match(line):
                    self._final = line
                else:
                    self._lines.append(line)
                self._state.notify_all()
                return
        try:
            self.on_urc(line)
        except Exception:  # a bad URC handler must not kill the reader
            log.exception("handling modem line %r failed", line)
