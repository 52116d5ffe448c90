"""An emulated GSM modem speaking a vendor's AT dialect over a pty.

Owns: one pseudo-terminal pair and the thread serving its master end. The
real modem driver (``firmware/hw/modem/``) opens the slave end with pyserial
exactly as it opens the module's port on the box, so CI runs the real driver
against this emulator. It must not touch real hardware, import the driver,
or hold any telephony state beyond what a module would: it is the far side
of the serial cable, nothing more.

Dialects (vendor differences are data, see :data:`DIALECTS`):

- ``sim7600``: SIMCom SIM7600E-H, LTE. ``+RXDTMF: <key>`` always on,
  ``VOICE CALL: BEGIN`` / ``VOICE CALL: END: <hhmmss>``, PCM audio over USB
  switched by ``AT+CPCMREG``, ``AT+SPIC``, ``AT+CRESET``.
- ``sim800``: SIMCom SIM800L, 2G only (no ``+CEREG``, access technology 0).
  ``+DTMF: <key>`` once ``AT+DDET=1``, ``AT+SPIC``.
- ``ec25``: Quectel EC25, LTE. ``+QTONEDET: <ASCII code>`` once
  ``AT+QTONEDET=1``, ``AT+QPINC``.

Written from the vendors' AT manuals and 3GPP TS 27.007 / 27.005. SMS in
text mode only: in PDU mode (``AT+CMGF=0``, the power-on default, as on the
real modules) the SMS commands answer ``+CMS ERROR: 303``.

Responses are framed as the modules frame them: the echoed command line
(``ATE1``, the default) ends with ``\\r``; information text and the final
result code are each ``\\r\\n<text>\\r\\n``; URCs likewise; the SMS prompt is
``\\r\\n> ``.

Threads and locks: the server thread is the only one that reads or writes
the pty. Other threads (a test driving the far end) change state under
``_lock`` and queue output through :meth:`ModemEmulator._emit`, which wakes
the server thread through a pipe. ``_lock`` is the only lock and is never
held across blocking I/O. Timed behaviour (repeated RING, alerting, slow
answers, reboot) runs from a timer heap in the server thread; nothing
sleeps.

Usage::

    with ModemEmulator("sim800", pin="1234") as modem:
        port = serial.Serial(modem.path, timeout=1)
        ...
        modem.incoming_call("+8613800138000")
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import re
import select
import threading
import time
import tty
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from firmware.errors import SmallPbxError

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B
SMS_CAPACITY = 50                      # "SM" storage slots on the emulated SIM
DTMF_KEYS = "0123456789*#ABCD"
MODES = (None, "hang", "garbage", "reboot", "sim-missing", "no-network", "slow")

# What a "garbage" modem answers to every command: bytes that are not UTF-8,
# an escape sequence, half a RING and an unterminated half line. Never a
# final result code.
JUNK = b"\r\n\xff\xfe\x00\x1b[0m\x81\r\n\xc3\x28\xa0\xa1 RIN\r\n+CS"

# +CME ERROR texts for AT+CMEE=2 (3GPP TS 27.007 §9.2).
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    16: "incorrect password",
    30: "no network service",
    50: "Incorrect parameters",
}

_LAC, _CI = "1A2B", "0C3D4E5F"         # location shown by +CREG/+CEREG n=2
_SERVICE_CENTRE = "+8613800100500"


class EmulatorError(SmallPbxError, RuntimeError):
    """The emulator was used in a way no real line allows (started twice,
    answering a call that is not ringing...)."""


@dataclass(frozen=True)
class Dialect:
    """How one vendor's module talks; everything vendor-specific is here."""

    vendor: str
    manufacturer: str                  # AT+CGMI
    model: str                         # AT+CGMM
    revision: str                      # AT+CGMR
    ati: tuple[str, ...]               # ATI lines; "{imei}" is filled in
    lte: bool                          # has +CEREG; +COPS access technology 7
    clip_tail: str                     # +CLIP fields after <number>,<type>
    dtmf_urc: str                      # "{key}" or "{code}" (ASCII code)
    dtmf_switch: str | None            # command enabling DTMF reports, or None
    voice_call_urcs: bool              # VOICE CALL: BEGIN / END: <hhmmss>
    boot_urcs: tuple[str, ...]         # at power-on, before +CPIN: <state>
    ready_urcs: tuple[str, ...]        # once the SIM is READY
    charset: str                       # +CSCS after power-on
    cmgr_empty_ok: bool                # AT+CMGR on an empty slot: OK, not 321
    commands: frozenset[str]           # which VENDOR_COMMANDS it knows


# Commands only some modules know; the others answer them as unknown.
VENDOR_COMMANDS = frozenset(
    {"+CEREG", "+SPIC", "+QPINC", "+DDET", "+QTONEDET", "+CPCMREG", "+CRESET"})

DIALECTS: dict[str, Dialect] = {
    "sim7600": Dialect(
        vendor="sim7600",
        manufacturer="SIMCOM INCORPORATED",
        model="SIMCOM_SIM7600E-H",
        revision="LE20B04SIM7600M22",
        ati=("Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
             "Revision: LE20B04SIM7600M22", "IMEI: {imei}", "+GCAP: +CGSM"),
        lte=True,
        clip_tail=",,,,0",
        dtmf_urc="+RXDTMF: {key}",
        dtmf_switch=None,
        voice_call_urcs=True,
        boot_urcs=("RDY",),
        ready_urcs=("SMS DONE", "PB DONE"),
        charset="IRA",
        cmgr_empty_ok=False,
        commands=frozenset({"+CEREG", "+SPIC", "+CPCMREG", "+CRESET"}),
    ),
    "sim800": Dialect(
        vendor="sim800",
        manufacturer="SIMCOM_Ltd",
        model="SIM800L",
        revision="Revision:1418B04SIM800L24",
        ati=("SIM800 R14.18",),
        lte=False,
        clip_tail=',"",0,"",0',
        dtmf_urc="+DTMF: {key}",
        dtmf_switch="+DDET",
        voice_call_urcs=False,
        boot_urcs=("RDY", "+CFUN: 1"),
        ready_urcs=("Call Ready", "SMS Ready"),
        charset="IRA",
        cmgr_empty_ok=True,
        commands=frozenset({"+SPIC", "+DDET"}),
    ),
    "ec25": Dialect(
        vendor="ec25",
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        ati=("Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
        lte=True,
        clip_tail=",,,,0",
        dtmf_urc="+QTONEDET: {code}",
        dtmf_switch="+QTONEDET",
        voice_call_urcs=False,
        boot_urcs=("RDY", "+CFUN: 1"),
        ready_urcs=("+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
        charset="GSM",
        cmgr_empty_ok=False,
        commands=frozenset({"+CEREG", "+QPINC", "+QTONEDET"}),
    ),
}

# Integer settings that are only stored and read back: name -> (default, allowed).
_SETTINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "+CMEE": (0, (0, 1, 2)),
    "+CLIP": (0, (0, 1)),
    "+CRC": (0, (0, 1)),
    "+CMGF": (0, (0, 1)),
    "+CSDH": (0, (0, 1)),
    "+COLP": (0, (0, 1)),
    "+CLCC": (0, (0, 1)),              # AT+CLCC=1: +CLCC URC on every change
    "+CREG": (0, (0, 1, 2)),
    "+CGREG": (0, (0, 1, 2)),
    "+CEREG": (0, (0, 1, 2)),
    "+CMUT": (0, (0, 1)),
    "+CLVL": (3, tuple(range(101))),
    "+QTONEDET": (0, (0, 1)),
}
_ALIASES = {"+GSN": "+CGSN", "+GMI": "+CGMI", "+GMM": "+CGMM", "+GMR": "+CGMR"}
_CLCC_STAT = {"active": 0, "dialling": 2, "alerting": 3, "ringing": 4}
_CMGL_STATS = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL")
_BASIC = re.compile(r"&[A-Za-z]\d*|[Ss]\d+(?:=\d*|\?)?|[A-Za-z]\d*")
_EXTENDED = re.compile(r"([+^$#%*][A-Za-z][A-Za-z0-9]*)(=\?|=|\?)?(.*)$", re.S)
_EOL = re.compile(rb"[\r\n]")


class _Fail(Exception):
    """Ends a command line with an error, or with another final result code
    (``kind="final"``, e.g. ``NO CARRIER``)."""

    def __init__(self, kind: str, code: int | str = 0):
        super().__init__(kind, code)
        self.kind = kind
        self.code = code


def _cme(code: int) -> _Fail:
    return _Fail("cme", code)


def _cms(code: int) -> _Fail:
    return _Fail("cms", code)


@dataclass
class _Call:
    number: str
    incoming: bool
    state: str                          # ringing, dialling, alerting, active
    rings: int = 0
    began: float | None = None          # monotonic time it became active

    @property
    def toa(self) -> int:
        """Type of address: 145 international ("+..."), 129 otherwise."""
        return 145 if self.number.startswith("+") else 129


@dataclass
class _StoredSms:
    sender: str
    text: str
    scts: str                           # "yy/MM/dd,hh:mm:ss+zz"
    status: str = "REC UNREAD"


@dataclass
class _OutgoingSms:
    number: str
    body: bytearray


def _args(text: str) -> list[str]:
    """Split AT parameters on commas outside quotes; quotes are removed and
    unquoted values stripped."""
    if not text.strip():
        return []
    out: list[str] = []
    cur: list[str] = []
    quoted = in_quotes = False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
            quoted = True
        elif ch == "," and not in_quotes:
            value = "".join(cur)
            out.append(value if quoted else value.strip())
            cur, quoted = [], False
        else:
            cur.append(ch)
    value = "".join(cur)
    out.append(value if quoted else value.strip())
    return out


def _int(value: str, allowed: tuple[int, ...] | range | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _cme(50) from None
    if allowed is not None and number not in allowed:
        raise _cme(50)
    return number


def _split_command_line(body: str) -> list[str]:
    """The commands of one line after its "AT": basic ones (``E0``, ``&F``,
    ``S0=1``), extended ones up to ``;`` (quotes respected), and a dial
    string, which takes the rest of the line."""
    tokens: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in " ;":
            i += 1
        elif ch in "+^$#%*":
            j, in_quotes = i, False
            while j < len(body) and (in_quotes or body[j] != ";"):
                in_quotes ^= body[j] == '"'
                j += 1
            tokens.append(body[i:j])
            i = j + 1
        elif ch in "Dd":
            tokens.append(body[i:])
            break
        else:
            match = _BASIC.match(body, i)
            if match is None:
                raise _Fail("plain")
            tokens.append(match.group(0))
            i = match.end()
    return tokens


def _hhmmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}{s // 60 % 60:02d}{s % 60:02d}"


class ModemEmulator:
    """A GSM module on the far side of a pty, speaking one vendor's dialect.

    :param vendor: ``"sim7600"``, ``"sim800"`` or ``"ec25"`` (see :data:`DIALECTS`).
    :param pin: the SIM's PIN; ``None`` means the SIM has no PIN lock.
    :param puk: the SIM's PUK, needed after three wrong PINs.
    :param imei: what ``AT+CGSN`` answers.
    :param operator: the network name in ``AT+COPS?``.
    :param signal: the RSSI in ``AT+CSQ`` (0-31).

    Tunable attributes (tests shorten them): ``ring_interval`` (3.0 s between
    RINGs), ``alert_delay`` (1.0 s from ``ATD`` to alerting), ``slow_delay``
    (2.0 s per final result in "slow" mode), ``boot_delay`` (0.0 s from a
    reset to the boot URCs), ``tz_quarters`` (32: UTC+8 in SMS timestamps).

    Observation, for tests: ``commands``, ``sent_sms``, ``sent_dtmf``,
    ``dialled``, ``call_state``, ``pcm_enabled``.
    """

    def __init__(self, vendor: str = "sim7600", *, pin: str | None = None, puk: str = "12345678",
                 imei: str = "867584030000001", operator: str = "CHINA MOBILE", signal: int = 20):
        try:
            self.dialect = DIALECTS[vendor]
        except KeyError:
            raise ValueError(f"unknown modem vendor {vendor!r}; known: {', '.join(DIALECTS)}") from None
        self.vendor = vendor
        self.pin = pin
        self.puk = puk
        self.imei = imei
        self.imsi = "460001234567890"
        self.operator = operator
        self.signal = signal
        self.ring_interval = 3.0
        self.alert_delay = 1.0
        self.slow_delay = 2.0
        self.boot_delay = 0.0
        self.tz_quarters = 32
        self.path: str | None = None

        self.commands: list[str] = []
        self.sent_sms: list[tuple[str, str]] = []
        self.sent_dtmf: list[str] = []
        self.dialled: list[str] = []
        self.pcm_enabled = False

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._out = bytearray()
        self._in = bytearray()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._after: list[str | Callable[[], None]] = []

        self._mode: str | None = None
        self._busy = False                  # a slow final result is pending
        self._booting = False
        self._sim_state = "SIM PIN" if pin else "READY"   # or SIM PUK, BLOCKED
        self._pin_left = 3
        self._puk_left = 10
        self._store: dict[int, _StoredSms] = {}
        self._mr = 0
        self._call: _Call | None = None
        self._sms: _OutgoingSms | None = None
        self._reset_settings()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> str:
        """Open the pty and start serving it.

        :returns: the slave's path, for ``serial.Serial(path)``.
        """
        with self._lock:
            if self._closed:
                raise EmulatorError("this emulator was closed; make a new one")
            if self._thread is not None:
                raise EmulatorError("already started")
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)        # no line discipline until pyserial opens it
            os.set_blocking(self._master, False)
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self.path = os.ttyname(self._slave)
            self._thread = threading.Thread(
                target=self._serve, name=f"modem-emulator-{self.vendor}", daemon=True)
            self._thread.start()
        log.debug("%s emulator serving %s", self.vendor, self.path)
        return self.path

    def close(self) -> None:
        """Stop the server thread and close the pty. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        for name in ("_master", "_slave", "_wake_r", "_wake_w"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> "ModemEmulator":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ModemEmulator {self.vendor} {self.path or 'not started'} call={self.call_state}>"

    # -- the far end (any thread) ---------------------------------------------

    @property
    def call_state(self) -> str:
        """``idle``, ``ringing`` (incoming), ``dialling``, ``alerting`` or ``active``."""
        with self._lock:
            return self._call.state if self._call else "idle"

    @property
    def mode(self) -> str | None:
        """The current misbehaviour (see :meth:`misbehave`), None when normal."""
        with self._lock:
            return self._mode

    def incoming_call(self, number: str) -> None:
        """Someone calls the SIM: RING (``+CRING: VOICE`` after ``AT+CRC=1``)
        and, after ``AT+CLIP=1``, ``+CLIP``, every ``ring_interval`` seconds
        until ``ATA`` or :meth:`remote_hangup`. Does nothing while the module
        is not registered (SIM locked or missing, no network), as the network
        could not reach it either.

        :param number: the caller's number as the network presents it.
        """
        with self._lock:
            if self._call is not None:
                raise EmulatorError("a call is already up; call waiting is not emulated")
            if not self._reachable():
                log.warning("incoming call from %s lost: module not registered", number)
                return
            self._call = _Call(number, incoming=True, state="ringing")
            self._clcc_urc(self._call)
            self._ring(self._call)

    def remote_answer(self) -> None:
        """The number dialled with ``ATD`` answers."""
        with self._lock:
            call = self._call
            if call is None or call.incoming or call.state not in ("dialling", "alerting"):
                raise EmulatorError("no outgoing call is waiting for an answer")
            for line in self._begin(call):
                self._urc(line)

    def remote_hangup(self) -> None:
        """The far end hangs up (or gives up ringing, or rejects our call):
        ``NO CARRIER``, after ``VOICE CALL: END: <hhmmss>`` on a SIM7600 whose
        call had begun."""
        with self._lock:
            if self._call is None:
                log.warning("remote_hangup() with no call")
                return
            self._drop_call()

    def send_dtmf(self, digits: str, *, duration_ms: int = 100) -> None:
        """The far end presses keys during an active call; each is reported in
        the vendor's URC if reports are on (SIM800 after ``AT+DDET=1``, EC25
        after ``AT+QTONEDET=1``, SIM7600 always).

        :param digits: one or more of ``0-9 * # A-D``.
        :param duration_ms: key length, shown by SIM800 with ``AT+DDET=1,0,1``.
        """
        bad = [d for d in digits if d not in DTMF_KEYS]
        if bad or not digits:
            raise ValueError(f"not DTMF keys: {digits!r}")
        with self._lock:
            if self._call is None or self._call.state != "active":
                log.warning("DTMF %s with no active call: nobody hears it", digits)
                return
            for key in digits:
                line = self._dtmf_line(key, duration_ms)
                if line is not None:
                    self._urc(line)

    def deliver_sms(self, sender: str, text: str, *, when: datetime | None = None) -> int:
        """A text message arrives. Stored in "SM" at the lowest free index with
        ``+CMTI: "SM",<index>`` (``AT+CNMI`` mode 1-3, mt 1), or shown at once
        with ``+CMT`` and not stored (mt 2).

        :param when: the service-centre timestamp; now (UTC+8) by default.
        :returns: the index; 0 if routed by ``+CMT``; -1 if lost because the
            SIM storage is full (50) or the module is not registered.
        """
        with self._lock:
            if not self._reachable():
                log.warning("SMS from %s lost: module not registered", sender)
                return -1
            scts = self._scts(when)
            mode, mt = self._cnmi[0], self._cnmi[1]
            if mode != 0 and mt == 2:
                self._urc(f'+CMT: "{self._to_te(sender)}","","{scts}"\r\n{self._to_te(text)}')
                return 0
            index = next((i for i in range(1, SMS_CAPACITY + 1) if i not in self._store), None)
            if index is None:
                log.warning("SMS from %s lost: SIM storage full", sender)
                return -1
            self._store[index] = _StoredSms(sender, text, scts)
            if mode != 0 and mt == 1:
                self._urc(f'+CMTI: "SM",{index}')
            return index

    def misbehave(self, mode: str | None) -> None:
        """Make the module misbehave as real ones do.

        :param mode: ``None`` back to normal; ``"hang"`` swallows commands and
            says nothing at all; ``"garbage"`` answers every command with junk
            (non-UTF-8 bytes, half lines) and never a result code; ``"reboot"``
            resets now (settings and call dropped, SIM messages kept), emits
            the vendor's boot URCs after ``boot_delay`` and is then normal;
            ``"sim-missing"`` (``+CPIN?`` gives ``+CME ERROR: 10``);
            ``"no-network"`` (``+CREG: 0,2``, ``+CSQ: 99,99``, calls drop);
            ``"slow"`` (every final result code ``slow_delay`` s late).
        """
        if mode not in MODES:
            raise ValueError(f"unknown misbehaviour {mode!r}; known: {MODES}")
        with self._lock:
            if mode == "reboot":
                self._begin_reboot()
                return
            was_registered = self._registered()
            self._mode = mode
            if mode in ("sim-missing", "no-network") and self._call is not None:
                self._drop_call()
            self._report_registration(was_registered)

    # -- server thread --------------------------------------------------------

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        while not self._stop.is_set():
            with self._lock:
                timeout = self._next_timeout()
                want_write = bool(self._out)
            try:
                readable, writable, _ = select.select(
                    [master, wake], [master] if want_write else [], [], timeout)
            except (OSError, ValueError):
                break
            if wake in readable:
                try:
                    os.read(wake, 4096)
                except OSError:
                    pass
            data = b""
            if master in readable:
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    pass
                except OSError:             # EIO: nobody has the slave open
                    self._stop.wait(0.05)
            with self._lock:
                try:
                    if data and not self._booting:
                        self._in += data
                    if self._booting:
                        self._in.clear()
                    self._run_timers()
                    self._process_input()
                except Exception:
                    log.exception("modem emulator failed handling input")
                if writable or self._out:
                    self._flush()

    def _flush(self) -> None:
        if self._master is None:
            return
        try:
            written = os.write(self._master, bytes(self._out[:4096]))
        except BlockingIOError:
            return
        except OSError:
            self._out.clear()
            return
        del self._out[:written]

    def _wake(self) -> None:
        fd = self._wake_w
        if fd is None:
            return
        try:
            os.write(fd, b"!")
        except OSError:
            pass

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), action))
        self._wake()

    def _next_timeout(self) -> float:
        if not self._timers:
            return 0.5
        return min(0.5, max(0.0, self._timers[0][0] - time.monotonic()))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            try:
                action()
            except Exception:
                log.exception("modem emulator timer failed")

    # -- output -----------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        if not data or self._mode == "hang" or self._closed:
            return
        self._out += data
        if threading.current_thread() is not self._thread:
            self._wake()

    def _enc(self, text: str) -> bytes:
        return text.encode("latin-1", "replace")

    def _urc(self, line: str) -> None:
        log.debug("%s -> URC %s", self.vendor, line)
        self._emit(b"\r\n" + self._enc(line) + b"\r\n")

    def _respond(self, info: list[str], final: str, after: list[str | Callable[[], None]]) -> None:
        head = b"\r\n" + b"\r\n".join(self._enc(line) for line in info) + b"\r\n" if info else b""
        tail = b"\r\n" + self._enc(final) + b"\r\n"
        log.debug("%s -> %s %s", self.vendor, info, final)
        if self._mode != "slow":
            self._emit(head + tail)
            self._run_after(after)
            return
        self._emit(head)
        self._busy = True

        def late() -> None:
            self._busy = False
            self._emit(tail)
            self._run_after(after)
        self._schedule(self.slow_delay, late)

    def _run_after(self, after: list[str | Callable[[], None]]) -> None:
        for item in after:
            if callable(item):
                item()
            else:
                self._urc(item)

    def _final_for(self, fail: _Fail) -> str:
        cmee = self._settings["+CMEE"]
        if fail.kind == "final":
            return str(fail.code)
        if fail.kind == "plain" or cmee == 0:
            return "ERROR"
        if fail.kind == "cms":
            return f"+CMS ERROR: {fail.code}"
        if cmee == 2:
            return f"+CME ERROR: {CME_TEXT.get(int(fail.code), fail.code)}"
        return f"+CME ERROR: {fail.code}"

    # -- input ----------------------------------------------------------------------

    def _process_input(self) -> None:
        while self._in and not self._busy and not self._booting:
            if self._sms is not None:
                if not self._take_sms_body():
                    return
                continue
            eol = _EOL.search(self._in)
            if eol is None:
                if len(self._in) > 4096:           # no line end in sight: drop it
                    self._in.clear()
                return
            raw = bytes(self._in[:eol.start()])
            end = eol.end()
            if self._in[eol.start()] == 0x0D and end < len(self._in) and self._in[end] == 0x0A:
                end += 1
            del self._in[:end]
            self._line(raw)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return
        self.commands.append(text)
        log.debug("%s <- %s", self.vendor, text)
        if self._mode == "hang":
            return
        if self._mode == "garbage":
            self._emit(JUNK)
            return
        if self._echo:
            self._emit(raw + b"\r")
        if text[:2].upper() != "AT":
            return                                  # modules ignore non-commands
        self._execute(text[2:])

    def _execute(self, body: str) -> None:
        info: list[str] = []
        self._after = []
        final = "OK"
        try:
            for token in _split_command_line(body):
                info.extend(self._dispatch(token))
                if self._sms is not None:           # AT+CMGS: prompt, text follows
                    if info:
                        self._emit(b"\r\n" + b"\r\n".join(self._enc(x) for x in info) + b"\r\n")
                    self._emit(b"\r\n> ")
                    return
        except _Fail as fail:
            final = self._final_for(fail)
        except Exception:
            log.exception("modem emulator failed on AT%s", body)
            final = "ERROR"
        after, self._after = self._after, []
        self._respond(info, final, after)

    def _dispatch(self, token: str) -> list[str]:
        if token[0] in "+^$#%*":
            match = _EXTENDED.match(token)
            if match is None:
                raise _Fail("plain")
            name, sep, rest = match.group(1).upper(), match.group(2), match.group(3)
            if (sep is None or sep == "?") and rest.strip():
                raise _cme(4)
            op = {None: "exec", "?": "read", "=?": "test", "=": "set"}[sep]
            name = _ALIASES.get(name, name)
            if name in VENDOR_COMMANDS and name not in self.dialect.commands:
                raise _cme(4)
            handler = getattr(self, "_x_" + name[1:].lower(), None)
            if handler is not None:
                return handler(op, rest)
            if name in _SETTINGS:
                return self._setting(name, op, rest)
            raise _cme(4)
        letter = token[0].upper()
        if letter == "D":
            return self._dial(token[1:])
        if letter == "&":
            return self._basic_ampersand(token[1:].upper())
        handler = getattr(self, "_basic_" + letter.lower(), None)
        if handler is None:
            raise _cme(4)
        return handler(token[1:])

    # -- state helpers ---------------------------------------------------------------

    def _reset_settings(self) -> None:
        self._echo = True
        self._settings = {name: default for name, (default, _) in _SETTINGS.items()}
        self._charset = self.dialect.charset
        self._cnmi = [2, 1, 0, 0, 0]
        self._csmp = [17, 167, 0, 0]
        self._ddet = [0, 0, 0, 0]
        self._s0 = 0
        self._cfun = 1

    def _registered(self) -> bool:
        return (self._cfun == 1 and self._sim_state == "READY"
                and self._mode not in ("sim-missing", "no-network"))

    def _reachable(self) -> bool:
        return self._registered() and not self._booting and not self._closed

    def _reg_stat(self) -> int:
        if self._registered():
            return 1
        if self._mode == "no-network" and self._cfun == 1 and self._sim_state == "READY":
            return 2
        return 0

    def _report_registration(self, was_registered: bool) -> None:
        if self._registered() == was_registered:
            return
        stat = self._reg_stat()
        names = ("+CREG", "+CGREG", "+CEREG") if self.dialect.lte else ("+CREG", "+CGREG")
        for name in names:
            n = self._settings[name]
            if n == 1 or (n == 2 and stat not in (1, 5)):
                self._urc(f"{name}: {stat}")
            elif n == 2:
                self._urc(f'{name}: {stat},"{_LAC}","{_CI}"' + (",7" if name == "+CEREG" else ""))

    def _need_sim(self, *, sms: bool = False) -> None:
        """Refuse a command that needs a usable SIM (SMS commands answer with
        +CMS codes from TS 27.005, the others with +CME codes)."""
        if self._mode == "sim-missing":
            raise _cms(310) if sms else _cme(10)
        if self._sim_state == "SIM PIN":
            raise _cms(311) if sms else _cme(11)
        if self._sim_state == "SIM PUK":
            raise _cms(316) if sms else _cme(12)
        if self._sim_state == "BLOCKED":
            raise _cms(310) if sms else _cme(13)

    def _need_text_mode(self) -> None:
        self._need_sim(sms=True)
        if self._settings["+CMGF"] != 1:
            log.warning("%s emulator: SMS in PDU mode is not emulated; send AT+CMGF=1", self.vendor)
            raise _cms(303)

    def _begin_reboot(self) -> None:
        """Power is gone: drop everything volatile now, boot after boot_delay."""
        self._mode = None
        self._busy = False
        self._call = None
        self._sms = None
        self.pcm_enabled = False
        self._timers.clear()
        self._in.clear()
        self._reset_settings()
        if self.pin and self._sim_state == "READY":   # the PIN lock is back;
            self._sim_state = "SIM PIN"               # counters live on the SIM
        self._booting = True
        self._schedule(self.boot_delay, self._boot)

    def _boot(self) -> None:
        self._booting = False
        for line in self.dialect.boot_urcs:
            self._urc(line)
        if self._sim_state == "BLOCKED":
            return
        self._urc(f"+CPIN: {self._sim_state}")
        if self._sim_state == "READY":
            for line in self.dialect.ready_urcs:
                self._urc(line)

    def _unlock(self) -> None:
        was_registered = self._registered()
        self._sim_state = "READY"
        self._pin_left, self._puk_left = 3, 10
        self._after.extend(["+CPIN: READY", *self.dialect.ready_urcs])
        self._after.append(lambda: self._report_registration(was_registered))

    # -- calls -------------------------------------------------------------------------

    def _clcc_line(self, call: _Call, stat: int) -> str:
        return f'+CLCC: 1,{1 if call.incoming else 0},{stat},0,0,"{call.number}",{call.toa}'

    def _clcc_urc(self, call: _Call, stat: int | None = None) -> None:
        if self._settings["+CLCC"]:
            self._urc(self._clcc_line(call, _CLCC_STAT[call.state] if stat is None else stat))

    def _ring(self, call: _Call) -> None:
        if self._call is not call or call.state != "ringing":
            return
        call.rings += 1
        self._urc("+CRING: VOICE" if self._settings["+CRC"] else "RING")
        if self._settings["+CLIP"]:
            self._urc(f'+CLIP: "{call.number}",{call.toa}{self.dialect.clip_tail}')
        if self._s0 and call.rings >= self._s0:     # ATS0=<n>: auto-answer
            for line in self._begin(call):
                self._urc(line)
            return
        self._schedule(self.ring_interval, lambda: self._ring(call))

    def _alert(self, call: _Call) -> None:
        if self._call is call and call.state == "dialling":
            call.state = "alerting"
            self._clcc_urc(call)

    def _begin(self, call: _Call) -> list[str]:
        """The call is connected; returns the vendor's lines to announce it."""
        call.state = "active"
        call.began = time.monotonic()
        self._clcc_urc(call)
        return ["VOICE CALL: BEGIN"] if self.dialect.voice_call_urcs else []

    def _end_call(self) -> list[str]:
        """The call is gone; returns the vendor's lines to announce it."""
        call, self._call = self._call, None
        self.pcm_enabled = False
        if call is None:
            return []
        self._clcc_urc(call, 6)
        if call.began is not None and self.dialect.voice_call_urcs:
            return [f"VOICE CALL: END: {_hhmmss(time.monotonic() - call.began)}"]
        return []

    def _drop_call(self) -> None:
        for line in self._end_call():
            self._urc(line)
        self._urc("NO CARRIER")

    def _dtmf_line(self, key: str, duration_ms: int) -> str | None:
        switch = self.dialect.dtmf_switch
        if switch == "+DDET":
            if not self._ddet[0]:
                return None
            line = self.dialect.dtmf_urc.format(key=key, code=ord(key))
            return f"{line},{duration_ms}" if self._ddet[2] == 1 else line
        if switch is not None and not self._settings[switch]:
            return None
        return self.dialect.dtmf_urc.format(key=key, code=ord(key))

    def _dial(self, rest: str) -> list[str]:
        dial = rest.strip()
        if not dial.endswith(";"):
            raise _Fail("plain")                    # data calls are not emulated
        number = dial[:-1].strip()
        if not re.fullmatch(r"\+?[0-9*#]+", number):
            raise _Fail("plain")
        self._need_sim()
        if not self._registered():
            raise _cme(30)
        if self._call is not None:
            raise _cme(3)
        call = self._call = _Call(number, incoming=False, state="dialling")
        self.dialled.append(number)
        self._after.append(lambda: self._clcc_urc(call))
        self._schedule(self.alert_delay, lambda: self._alert(call))
        return []

    # -- basic commands ------------------------------------------------------------------

    def _basic_e(self, param: str) -> list[str]:
        self._echo = _int(param or "0", (0, 1)) == 1
        return []

    def _basic_v(self, param: str) -> list[str]:
        if param not in ("", "1"):
            raise _Fail("plain")                    # numeric result codes not emulated
        return []

    def _basic_q(self, param: str) -> list[str]:
        if param not in ("", "0"):
            raise _Fail("plain")                    # quiet mode not emulated
        return []

    def _basic_z(self, param: str) -> list[str]:
        self._reset_settings()
        return []

    def _basic_ampersand(self, command: str) -> list[str]:
        if command == "F" or command == "F0":
            self._reset_settings()
        return []                                   # &W, &D, &C, &K...: accepted

    def _basic_i(self, param: str) -> list[str]:
        return [line.format(imei=self.imei) for line in self.dialect.ati]

    def _basic_a(self, param: str) -> list[str]:
        call = self._call
        if call is None or not call.incoming or call.state != "ringing":
            raise _Fail("final", "NO CARRIER")
        self._after.extend(self._begin(call))
        return []

    def _basic_h(self, param: str) -> list[str]:
        return self._end_call()

    def _basic_s(self, param: str) -> list[str]:
        match = re.fullmatch(r"(\d+)(?:=(\d*)|(\?))?", param)
        if match is None:
            raise _Fail("plain")
        register = int(match.group(1))
        if match.group(3):
            return [f"{self._s0 if register == 0 else 0:03d}"]
        if register == 0 and match.group(2) is not None:
            self._s0 = _int(match.group(2) or "0", range(256))
        return []

    def _basic_x(self, param: str) -> list[str]:
        return []

    _basic_l = _basic_m = _basic_x

    # -- extended commands: identity, SIM, network ------------------------------------------

    def _setting(self, name: str, op: str, rest: str) -> list[str]:
        default, allowed = _SETTINGS[name]
        if op == "read":
            return [f"{name}: {self._settings[name]}"]
        if op == "test":
            span = ",".join(map(str, allowed)) if len(allowed) <= 3 else f"{allowed[0]}-{allowed[-1]}"
            return [f"{name}: ({span})"]
        if op == "set":
            args = _args(rest)
            self._settings[name] = _int(args[0] if args else "", allowed)
        else:
            self._settings[name] = default
        return []

    def _x_cgmi(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.dialect.manufacturer]

    def _x_cgmm(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.dialect.model]

    def _x_cgmr(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        return [f"+CGMR: {self.dialect.revision}" if self.vendor == "sim7600" else self.dialect.revision]

    def _x_cgsn(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.imei]

    def _x_cimi(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_sim()
        return [self.imsi]

    def _x_cpin(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        if self._mode == "sim-missing":
            raise _cme(10)
        if self._sim_state == "BLOCKED":
            raise _cme(13)
        if op == "read":
            return [f"+CPIN: {self._sim_state}"]
        args = _args(rest)
        if op != "set" or not args or not args[0]:
            raise _cme(50)
        if self._sim_state == "READY":
            raise _cme(3)
        if self._sim_state == "SIM PIN":
            if args[0] == self.pin:
                self._unlock()
                return []
            self._pin_left -= 1
            if self._pin_left <= 0:
                self._sim_state = "SIM PUK"
            raise _cme(16)
        # SIM PUK: AT+CPIN="<puk>","<new pin>"
        if len(args) < 2 or not re.fullmatch(r"\d{4,8}", args[1]):
            raise _cme(12)
        if args[0] == self.puk:
            self.pin = args[1]
            self._unlock()
            return []
        self._puk_left -= 1
        if self._puk_left <= 0:
            self._sim_state = "BLOCKED"
        raise _cme(16)

    def _x_spic(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        if self._mode == "sim-missing":
            raise _cme(10)
        return [f"+SPIC: {self._pin_left},{self._puk_left},3,10"]

    def _x_qpinc(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ['+QPINC: ("SC","P2")']
        if self._mode == "sim-missing":
            raise _cme(10)
        lines = {"SC": f'+QPINC: "SC",{self._pin_left},{self._puk_left}', "P2": '+QPINC: "P2",3,10'}
        if op == "read":
            return list(lines.values())
        args = _args(rest)
        if op != "set" or not args or args[0].upper() not in lines:
            raise _cme(50)
        return [lines[args[0].upper()]]

    def _x_csq(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        if op != "exec":
            raise _cme(4)
        if self._mode == "no-network" or self._cfun != 1:
            return ["+CSQ: 99,99"]
        return [f"+CSQ: {self.signal},99"]

    def _registration(self, name: str, op: str, rest: str) -> list[str]:
        if op != "read":
            return self._setting(name, op, rest)
        n, stat = self._settings[name], self._reg_stat()
        if n == 2 and stat in (1, 5):
            tail = ",7" if name == "+CEREG" else ""
            return [f'{name}: 2,{stat},"{_LAC}","{_CI}"{tail}']
        return [f"{name}: {n},{stat}"]

    def _x_creg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CREG", op, rest)

    def _x_cgreg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CGREG", op, rest)

    def _x_cereg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CEREG", op, rest)

    def _x_cops(self, op: str, rest: str) -> list[str]:
        act = 7 if self.dialect.lte else 0
        if op == "test":
            return [f'+COPS: (2,"{self.operator}","CMCC","46000",{act}),,(0-4),(0-2)']
        if op == "read":
            if self._registered():
                return [f'+COPS: 0,0,"{self.operator}",{act}']
            return ["+COPS: 0"]
        return []

    def _x_cfun(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CFUN: {self._cfun}"]
        if op == "test":
            return ["+CFUN: (0,1,4),(0,1)"]
        args = _args(rest)
        if op != "set" or not args:
            raise _cme(50)
        level = _int(args[0], (0, 1, 4))
        reset = len(args) > 1 and _int(args[1], (0, 1)) == 1
        was_registered = self._registered()
        self._cfun = level
        if reset:
            self._after.append(self._begin_reboot)
            return []
        if level != 1 and self._call is not None:
            self._after.append(self._drop_call)
        self._after.append(lambda: self._report_registration(was_registered))
        return []

    def _x_creset(self, op: str, rest: str) -> list[str]:
        if op == "exec":
            self._after.append(self._begin_reboot)
        return []

    # -- extended commands: calls -----------------------------------------------------------

    def _x_clip(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CLIP: {self._settings['+CLIP']},1"]
        return self._setting("+CLIP", op, rest)

    def _x_chup(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else self._end_call()

    def _x_clcc(self, op: str, rest: str) -> list[str]:
        if op != "exec":
            return self._setting("+CLCC", op, rest)
        call = self._call
        return [self._clcc_line(call, _CLCC_STAT[call.state])] if call else []

    def _x_vts(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return [f"+VTS: ({','.join(DTMF_KEYS)})"]
        if op != "set":
            raise _cme(50)
        text = rest.strip()
        if text.startswith('"'):
            inner = text[1:].split('"', 1)[0]
            keys = [k.strip() for k in inner.split(",")] if "," in inner else list(inner)
        else:
            keys = list(text.split(",", 1)[0].strip())   # <dtmf>[,<duration>]
        if not keys or any(len(k) != 1 or k.upper() not in DTMF_KEYS for k in keys):
            raise _cme(50)
        if self._call is None or self._call.state != "active":
            raise _cme(3)
        self.sent_dtmf.extend(k.upper() for k in keys)
        return []

    def _x_ddet(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+DDET: " + ",".join(map(str, self._ddet))]
        if op == "test":
            return ["+DDET: (0,1),(0-10000),(0,1),(0,1)"]
        args = _args(rest)
        if op != "set" or not args:
            raise _cme(50)
        limits = ((0, 1), range(10001), (0, 1), (0, 1))
        for i, value in enumerate(args[:4]):
            self._ddet[i] = _int(value, limits[i])
        return []

    def _x_cpcmreg(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CPCMREG: {int(self.pcm_enabled)}"]
        if op == "test":
            return ["+CPCMREG: (0,1)"]
        args = _args(rest)
        if op != "set" or not args:
            raise _cme(50)
        self.pcm_enabled = _int(args[0], (0, 1)) == 1
        return []

    # -- extended commands: SMS (text mode) ------------------------------------------------

    def _to_te(self, text: str) -> str:
        """A string as the TE sees it in the current +CSCS character set."""
        if self._charset == "UCS2":
            return text.encode("utf-16-be").hex().upper()
        return text

    def _from_te(self, text: str) -> str:
        if self._charset != "UCS2":
            return text
        if len(text) % 4 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
            raise ValueError(f"not UCS2 hex: {text!r}")
        return bytes.fromhex(text).decode("utf-16-be")

    def _scts(self, when: datetime | None) -> str:
        if when is None:
            when = datetime.now(timezone(timedelta(minutes=15 * self.tz_quarters)))
        offset = when.utcoffset()
        quarters = int(offset.total_seconds() // 900) if offset is not None else self.tz_quarters
        return when.strftime("%y/%m/%d,%H:%M:%S") + f"{quarters:+03d}"

    def _x_cscs(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f'+CSCS: "{self._charset}"']
        if op == "test":
            return ['+CSCS: ("IRA","GSM","UCS2")']
        args = _args(rest)
        if op != "set" or not args or args[0].upper() not in ("IRA", "GSM", "UCS2"):
            raise _cme(50)
        self._charset = args[0].upper()
        return []

    def _x_cnmi(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+CNMI: " + ",".join(map(str, self._cnmi))]
        if op == "test":
            return ["+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"]
        args = _args(rest)
        if op != "set" or not args:
            raise _cms(304)
        limits = (range(4), range(4), (0, 2), range(3), (0, 1))
        try:
            for i, value in enumerate(args[:5]):
                if value != "":
                    self._cnmi[i] = _int(value, limits[i])
        except _Fail:
            raise _cms(304) from None
        return []

    def _x_csmp(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+CSMP: " + ",".join(map(str, self._csmp))]
        if op == "set":
            for i, value in enumerate(_args(rest)[:4]):
                if value != "":
                    self._csmp[i] = _int(value, range(256))
        return []

    def _x_cpms(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ['+CPMS: ("SM"),("SM"),("SM")']
        self._need_sim(sms=True)
        used = len(self._store)
        if op == "read":
            return [",".join([f'+CPMS: "SM",{used},{SMS_CAPACITY}'] + [f'"SM",{used},{SMS_CAPACITY}'] * 2)]
        args = _args(rest)
        if op != "set" or not args or any(a.upper() != "SM" for a in args[:3]):
            raise _cms(302)
        return ["+CPMS: " + ",".join([f"{used},{SMS_CAPACITY}"] * 3)]

    def _x_cmgs(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_text_mode()
        args = _args(rest)
        if op != "set" or not args or not args[0]:
            raise _cms(304)
        try:
            number = self._from_te(args[0])
        except ValueError:
            raise _cms(304) from None
        self._sms = _OutgoingSms(number, bytearray())
        return []

    def _take_sms_body(self) -> bool:
        """Move prompt-mode bytes into the message; True once it is finished."""
        for i, byte in enumerate(self._in):
            if byte in (CTRL_Z, ESC):
                chunk = bytes(self._in[:i])
                del self._in[:i + 1]
                self._sms_chunk(chunk)
                self._finish_sms(aborted=byte == ESC)
                return True
        chunk = bytes(self._in)
        self._in.clear()
        self._sms_chunk(chunk)
        return False

    def _sms_chunk(self, chunk: bytes) -> None:
        if self._sms is None or not chunk:
            return
        self._sms.body += chunk
        pieces = chunk.split(b"\r")
        for n, piece in enumerate(pieces):   # every CR opens a new "> " line
            if self._echo:
                self._emit(piece.replace(b"\n", b""))
            if n < len(pieces) - 1:
                self._emit(b"\r\n> ")

    def _finish_sms(self, *, aborted: bool) -> None:
        sms, self._sms = self._sms, None
        if aborted or sms is None:
            self._respond([], "OK", [])
            return
        raw = bytes(sms.body).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        try:
            if not self._registered():
                raise _cms(331)                      # no network service
            if self._charset == "UCS2":
                text = self._from_te(re.sub(rb"\s", b"", raw).decode("ascii"))
            else:
                text = raw.decode("latin-1")
        except (ValueError, UnicodeDecodeError):
            self._respond([], self._final_for(_cms(304)), [])
            return
        except _Fail as fail:
            self._respond([], self._final_for(fail), [])
            return
        self._mr = self._mr % 255 + 1
        self.sent_sms.append((sms.number, text))
        self._respond([f"+CMGS: {self._mr}"], "OK", [])

    def _sms_header(self, sms: _StoredSms) -> str:
        header = f'"{sms.status}","{self._to_te(sms.sender)}","","{sms.scts}"'
        if self._settings["+CSDH"]:
            ucs2 = any(ord(c) > 0x7F for c in sms.text)
            length = len(sms.text.encode("utf-16-be")) if ucs2 else len(sms.text)
            header += (f',{145 if sms.sender.startswith("+") else 129},4,0,{8 if ucs2 else 0},'
                       f'"{_SERVICE_CENTRE}",145,{length}')
        return header

    def _x_cmgr(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_text_mode()
        args = _args(rest)
        if op != "set" or not args:
            raise _cms(304)
        try:
            index = _int(args[0], range(1, SMS_CAPACITY + 1))
        except _Fail:
            raise _cms(321) from None
        sms = self._store.get(index)
        if sms is None:
            if self.dialect.cmgr_empty_ok:
                return []
            raise _cms(321)
        lines = [f"+CMGR: {self._sms_header(sms)}", self._to_te(sms.text)]
        if sms.status == "REC UNREAD":
            sms.status = "REC READ"
        return lines

    def _x_cmgl(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ["+CMGL: (" + ",".join(f'"{s}"' for s in _CMGL_STATS) + ")"]
        self._need_text_mode()
        args = _args(rest)
        wanted = args[0].upper() if args else "REC UNREAD"
        if wanted not in _CMGL_STATS:
            raise _cms(304)
        lines = []
        for index in sorted(self._store):
            sms = self._store[index]
            if wanted != "ALL" and sms.status != wanted:
                continue
            lines += [f"+CMGL: {index},{self._sms_header(sms)}", self._to_te(sms.text)]
            if sms.status == "REC UNREAD":
                sms.status = "REC READ"
        return lines

    def _x_cmgd(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return [f"+CMGD: (1-{SMS_CAPACITY}),(0-4)"]
        self._need_sim(sms=True)
        args = _args(rest)
        if op != "set" or not args:
            raise _cms(304)
        try:
            flag = _int(args[1], range(5)) if len(args) > 1 and args[1] != "" else 0
            index = _int(args[0])
        except _Fail:
            raise _cms(304) from None
        if flag == 0:
            if index not in range(1, SMS_CAPACITY + 1):
                raise _cms(321)
            self._store.pop(index, None)
        elif flag == 4:
            self._store.clear()
        else:                                       # 1-3: read ones (no sent ones are stored)
            for i in [i for i, sms in self._store.items() if sms.status == "REC READ"]:
                del self._store[i]
        return []
