"""The AT channel: send one command, collect its answer, pass the rest on.

A reader thread splits what the modem sends into lines. While a command is
pending, lines belong to its answer until a final result code (OK, ERROR,
+CME ERROR: n, +CMS ERROR: n); lines that match the vendor's unsolicited
patterns (RING, +CLIP, +CMTI, DTMF reports ...) go to ``on_urc`` instead,
whenever they arrive. Garbage never raises: undecodable bytes are replaced
and a command that gets no final code ends in :class:`ModemTimeout`.

Data mode (V.253 voice data): a command given a ``stream`` handler takes
``CONNECT`` as its final result, and from the byte after it the reader hands
everything the modem sends to that handler instead of splitting lines, until
the handler says the data ended and returns what followed (``<DLE><ETX>``
then ``OK``: lines again). While in data mode ``command`` refuses;
:meth:`AtChannel.write_raw` sends data and :meth:`AtChannel.end_stream`
sends the code that ends it and waits for the final result code after it.

Threads: ``command`` may be called from any thread (one at a time, under a
lock); ``on_urc`` and a ``stream`` handler run on the reader thread and must
not call ``command`` (it would wait for itself): queue follow-up work
instead. Writes to the port are serialised by their own lock, so a stream
handler may call ``write_raw`` while another thread waits in ``end_stream``.
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
FINAL_CONNECT = "CONNECT"
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
    :param eager: read whatever has arrived instead of waiting for 256 bytes
        or the port's read timeout: answers and voice data come without the
        timeout's delay.
    """

    def __init__(self, port, *, is_urc: Callable[[str], bool], on_urc: Callable[[str], None],
                 eager: bool = False):
        self.port = port
        self.is_urc = is_urc
        self.on_urc = on_urc
        self.eager = eager
        self._lock = threading.Lock()        # one command at a time
        self._wlock = threading.Lock()       # one writer at a time (data mode writes from the reader)
        self._state = threading.Condition()  # guards the fields below
        self._pending: str | None = None
        self._lines: list[str] = []
        self._final: str | None = None
        self._prompt = False
        self._also_ok: tuple[str, ...] = ()
        self._next_stream: Callable[[bytes], bytes | None] | None = None  # armed by command(stream=)
        self._stream: Callable[[bytes], bytes | None] | None = None       # data mode when set
        self._skip_lf = False                # CONNECT ended with a bare CR: its LF may follow
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

    @property
    def in_data_mode(self) -> bool:
        return self._stream is not None

    # -- sending ---------------------------------------------------------------
    def command(self, cmd: str, timeout: float = 5.0, *, data: str | None = None,
                stream: Callable[[bytes], bytes | None] | None = None,
                also_ok: tuple[str, ...] = ()) -> list[str]:
        """Send ``cmd``; return the answer lines (without echo and final code).

        ``data`` is sent after the modem's ``> `` prompt and ended with
        Ctrl-Z (AT+CMGS).

        ``stream``: ``CONNECT`` ends the command and starts data mode; the
        handler then gets every byte the modem sends (reader thread) and
        returns None while the data goes on, or the bytes after its end.

        ``also_ok``: further final result codes meaning success (``VCON``).
        """
        with self._lock:
            if self._stream is not None:
                raise ModemError(f"{cmd}: the modem is in data mode")
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
                self._also_ok, self._next_stream = also_ok, stream
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
                    self._also_ok, self._next_stream = (), None
        if final != FINAL_OK and final not in also_ok and not (stream and final.startswith(FINAL_CONNECT)):
            raise CommandError(cmd, final)
        return lines

    def write_raw(self, data: bytes) -> None:
        """Send bytes as they are (data mode); any thread."""
        self._write_bytes(data)

    def end_stream(self, data: bytes, timeout: float = 2.0) -> list[str]:
        """Leave data mode: send ``data`` (the code that ends it) and wait for
        the final result code after the modem's end of data.

        Returns at once when the modem already left data mode. After a
        timeout or a failed write the channel is back in line mode regardless
        (the modem may still be in data mode: the caller decides what to try
        next).
        """
        with self._lock:
            with self._state:
                if self._stream is None:
                    return []
                self._pending, self._lines, self._final, self._prompt = "<end of data>", [], None, False
            try:
                self._write_bytes(data)
                with self._state:
                    if not self._state.wait_for(lambda: self._final is not None, timeout):
                        self._timed_out = True
                        raise ModemTimeout(f"leaving data mode: no answer within {timeout} s")
                    final, lines = self._final, list(self._lines)
            except ModemError:
                with self._state:
                    self._stream = None
                raise
            finally:
                with self._state:
                    self._pending = None
        if final != FINAL_OK:
            raise CommandError("<end of data>", final)
        return lines

    def _write(self, text: str) -> None:
        self._write_bytes(text.encode("utf-8", errors="replace"))

    def _write_bytes(self, data: bytes) -> None:
        try:
            with self._wlock:
                self.port.write(data)
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
                chunk = self.port.read(max(1, self.port.in_waiting) if self.eager else 256)
            except (OSError, ValueError, TypeError) as exc:
                log.error("modem port read failed: %s", exc)
                self._stop.wait(1.0)  # the device vanished: the supervisor notices
                continue
            if not chunk:
                continue
            self.last_rx = time.monotonic()
            buf = self._consume(buf + chunk)

    def _consume(self, buf: bytes) -> bytes:
        """Act on what arrived; returns what waits for more (half a line)."""
        while True:
            if self._stream is not None:
                buf = self._feed_stream(buf)
                if self._stream is not None:
                    return b""
                continue
            if len(buf) > MAX_LINE and b"\n" not in buf and b"\r" not in buf:
                buf = b""  # a flood without line ends is garbage
            with self._state:
                if self._pending is not None and buf.lstrip(b"\r\n").startswith(b">"):
                    self._prompt = True
                    buf = buf.lstrip(b"\r\n")[1:].lstrip(b" ")
                    self._state.notify_all()
            m = re.search(rb"\r\n|\r|\n", buf)
            if not m:
                return buf
            raw, buf = buf[:m.start()], buf[m.end():]
            line = raw.decode("utf-8", errors="replace").strip()
            if line:
                self._line(line)
                self._skip_lf = self._stream is not None and m.group() == b"\r"

    def _feed_stream(self, buf: bytes) -> bytes:
        """Hand data-mode bytes to the stream handler; what follows its end is returned."""
        if self._skip_lf and buf:
            self._skip_lf = False
            if buf.startswith(b"\n"):
                buf = buf[1:]
        if not buf:
            return b""
        handler = self._stream
        if handler is None:                  # end_stream gave up on the modem meanwhile
            return buf
        try:
            rest = handler(buf)
        except Exception:  # a bad handler must not kill the reader
            log.exception("handling modem data failed")
            return b""
        if rest is None:
            return b""
        with self._state:
            if self._stream is handler:
                self._stream = None
        return rest

    def _line(self, line: str) -> None:
        with self._state:
            pending = self._pending
            if pending is not None and line == pending:
                return  # echo (before ATE0 took effect)
            if pending is not None and (_answers(pending, line) or not self.is_urc(line)):
                if self._next_stream is not None and line.startswith(FINAL_CONNECT):
                    # Data follows this line at once: switch before reading on.
                    self._final, self._stream, self._next_stream = line, self._next_stream, None
                elif line == FINAL_OK or FINAL_ERROR.match(line) or line in self._also_ok:
                    self._final = line
                else:
                    self._lines.append(line)
                self._state.notify_all()
                return
        try:
            self.on_urc(line)
        except Exception:  # a bad URC handler must not kill the reader
            log.exception("handling modem line %r failed", line)
