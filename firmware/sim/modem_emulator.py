"""An emulated GSM modem speaking a vendor's AT dialect over a pty.

Owns: :class:`ModemEmulator`, the module as a whole: its volatile state,
its lifecycle, the far end's API (calls, DTMF, SMS, misbehaviour), how
command lines are read and answered, and reboots. The real modem driver
(``firmware/hw/modem/``) opens the pty's slave end with pyserial exactly
as it opens the module's port on the box, so CI runs the real driver
against this emulator. It must not touch real hardware, import the driver,
or hold any telephony state beyond what a module would: it is the far side
of the serial cable, nothing more.

The parts, one concern each:

- :mod:`~firmware.sim.dialects`: the vendors' differences, as data.
- :mod:`~firmware.sim.at_syntax`: command-line splitting, parameters, error codes.
- :mod:`~firmware.sim.pty_server`: the pty and the thread serving it.
- :mod:`~firmware.sim.at_session`: reading command lines, dispatching, framing answers.
- :mod:`~firmware.sim.device_commands`: settings, identity, SIM lock, network, power.
- :mod:`~firmware.sim.call_commands`: call states and the call commands.
- :mod:`~firmware.sim.sms_commands`, :mod:`~firmware.sim.sms` and
  :mod:`~firmware.sim.pdu`: text messages, in PDU and text mode.
- :mod:`~firmware.sim.pcm`: the SIM7600's voice PCM port, on a second pty.

Dialects:

- ``sim7600``: SIMCom SIM7600E-H, LTE. ``+RXDTMF: <key>`` always on,
  ``VOICE CALL: BEGIN`` / ``VOICE CALL: END: <hhmmss>``, PCM audio over USB
  switched by ``AT+CPCMREG`` (``pcm=True`` emulates the audio port too),
  ``AT+SPIC``, ``AT+CRESET``.
- ``sim800``: SIMCom SIM800L, 2G only (no ``+CEREG``, access technology 0).
  ``+DTMF: <key>`` once ``AT+DDET=1``, ``AT+SPIC``.
- ``ec25``: Quectel EC25, LTE. ``+QTONEDET: <ASCII code>`` once
  ``AT+QTONEDET=1``, ``AT+QPINC``.

Written from the vendors' AT manuals and 3GPP TS 27.007 / 27.005, and for
PDUs TS 23.040 / 23.038. SMS in PDU mode (``AT+CMGF=0``, the power-on
default, as on the real modules) and text mode (``AT+CMGF=1``); a message
is stored as the PDU the network delivered, so a long text is several
concatenated parts in both.

Responses are framed as the modules frame them: the echoed command line
(``ATE1``, the default) ends with ``\\r``; information text and the final
result code are each ``\\r\\n<text>\\r\\n``; URCs likewise; the SMS prompt is
``\\r\\n> ``.

Threads and locks: the server thread is the only one that reads or writes
the AT pty, and the PCM thread the only one for the PCM pty. Other threads
(a test driving the far end) change state under ``_lock`` and queue output
through :meth:`ModemEmulator._emit`, which wakes the server thread through
a pipe. ``_lock`` is never held across blocking I/O. It may be held while
calling into the PCM port (lock order: ``_lock`` -> the port's own lock);
the PCM thread never takes ``_lock``. Timed behaviour (repeated RING,
alerting, slow answers, reboot) runs from a timer heap in the server
thread; nothing sleeps.

Usage::

    with ModemEmulator("sim800", pin="1234") as modem:
        port = serial.Serial(modem.path, timeout=1)
        ...
        modem.incoming_call("+8613800138000")
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable

from firmware.errors import SmallPbxError
from firmware.sim.at_session import AtSession
from firmware.sim.call_commands import DTMF_KEYS, Call, CallCommands
from firmware.sim.device_commands import SETTINGS, DeviceCommands
from firmware.sim.dialects import DIALECTS, Dialect
from firmware.sim.pcm import PcmPort
from firmware.sim.pty_server import PtyServer
from firmware.sim.sms import SMS_CAPACITY, OutgoingSms, SmsStore
from firmware.sim.sms_commands import SmsCommands

__all__ = ["DIALECTS", "DTMF_KEYS", "MODES", "SMS_CAPACITY", "Dialect", "EmulatorError", "ModemEmulator"]

log = logging.getLogger(__name__)

MODES = (None, "hang", "garbage", "reboot", "sim-missing", "no-network", "slow")


class EmulatorError(SmallPbxError, RuntimeError):
    """The emulator was used in a way no real line allows (started twice,
    answering a call that is not ringing...)."""


class ModemEmulator(AtSession, DeviceCommands, CallCommands, SmsCommands):
    """A GSM module on the far side of a pty, speaking one vendor's dialect.

    :param vendor: ``"sim7600"``, ``"sim800"`` or ``"ec25"`` (see :data:`DIALECTS`).
    :param pin: the SIM's PIN; ``None`` means the SIM has no PIN lock.
    :param puk: the SIM's PUK, needed after three wrong PINs.
    :param imei: what ``AT+CGSN`` answers.
    :param operator: the network name in ``AT+COPS?``.
    :param signal: the RSSI in ``AT+CSQ`` (0-31).
    :param pcm: also emulate the voice PCM port (SIM7600 only): a second pty
        at :attr:`pcm_path` carrying the call's audio once ``AT+CPCMREG=1``.

    Tunable attributes (tests shorten them): ``ring_interval`` (3.0 s between
    RINGs), ``alert_delay`` (1.0 s from ``ATD`` to alerting), ``slow_delay``
    (2.0 s per final result in "slow" mode), ``boot_delay`` (0.0 s from a
    reset to the boot URCs), ``tz_quarters`` (32: UTC+8 in SMS timestamps).

    Observation, for tests: ``commands``, ``sent_sms`` (``(number, text)``,
    a long text once all its parts are sent), ``sent_pdus`` (each
    SMS-SUBMIT sent in PDU mode, hex), ``sent_dtmf``, ``dialled``,
    ``call_state``, ``pcm_enabled``; with ``pcm=True`` also
    ``captured_audio``, ``discarded_bytes``, ``pcm_streaming``, ``pcm_frames_sent``.
    """

    def __init__(self, vendor: str = "sim7600", *, pin: str | None = None, puk: str = "12345678",
                 imei: str = "867584030000001", operator: str = "CHINA MOBILE", signal: int = 20,
                 pcm: bool = False):
        try:
            self.dialect = DIALECTS[vendor]
        except KeyError:
            raise ValueError(f"unknown modem vendor {vendor!r}; known: {', '.join(DIALECTS)}") from None
        if pcm and "+CPCMREG" not in self.dialect.commands:
            raise ValueError(f"a {vendor} has no PCM audio port; only the sim7600 is emulated with one")
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
        self.sent_pdus: list[str] = []
        self.sent_dtmf: list[str] = []
        self.dialled: list[str] = []

        self._lock = threading.RLock()
        self._closed = False
        self._server = PtyServer(f"modem-emulator-{vendor}", self._lock,
                                 receive=self._receive, process=self._process_input)
        self._pcm = PcmPort(f"modem-pcm-{vendor}") if pcm else None
        self._pcm_enabled = False
        self._in = bytearray()
        self._after: list[str | Callable[[], None]] = []

        self._mode: str | None = None
        self._busy = False                  # a slow final result is pending
        self._booting = False
        self._sim_state = "SIM PIN" if pin else "READY"   # or SIM PUK, BLOCKED
        self._pin_left = 3
        self._puk_left = 10
        self._store = SmsStore(SMS_CAPACITY)
        self._mr = 0
        self._next_ref = 1                  # the far end's next concatenation reference
        self._sent_parts: dict[tuple[str, int, int], dict[int, str]] = {}
        self._call: Call | None = None
        self._sms: OutgoingSms | None = None
        self._reset_settings()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> str:
        """Open the pty (and the PCM pty with ``pcm=True``) and start serving.

        :returns: the slave's path, for ``serial.Serial(path)``.
        """
        with self._lock:
            if self._closed:
                raise EmulatorError("this emulator was closed; make a new one")
            if self._server.thread is not None:
                raise EmulatorError("already started")
            self.path = self._server.start()
            if self._pcm is not None:
                self._pcm.start()
        log.debug("%s emulator serving %s (PCM %s)", self.vendor, self.path, self.pcm_path)
        return self.path

    def close(self) -> None:
        """Stop the threads and close the ptys. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.close()
        if self._pcm is not None:
            self._pcm.close()

    def __enter__(self) -> "ModemEmulator":
        if self._server.thread is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ModemEmulator {self.vendor} {self.path or 'not started'} call={self.call_state}>"

    @property
    def _thread(self) -> threading.Thread | None:
        """The server thread, once started."""
        return self._server.thread

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
            self._call = Call(number, incoming=True, state="ringing")
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
        call had begun. The PCM stream, if any, has stopped when this returns."""
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

    def deliver_sms(self, sender: str, text: str, *, when: datetime | None = None,
                    ref: int | None = None) -> int:
        """A text message arrives, as the SMS-DELIVER PDUs a phone's text
        makes: GSM 7-bit if every character is in the default alphabet,
        else UCS2; a long text in parts of 153 / 67 characters with a
        concatenation header, each part stored and announced on its own.
        Each is stored in "SM" at the lowest free index with
        ``+CMTI: "SM",<index>`` (``AT+CNMI`` mode 1-3, mt 1), or shown at
        once with ``+CMT`` and not stored (mt 2).

        :param sender: a number (``+`` for international) or a name
            (alphanumeric sender, up to 11 characters).
        :param when: the service-centre timestamp; now (UTC+8) by default.
        :param ref: the concatenation reference; the next one by default.
        :returns: the (first part's) index; 0 if routed by ``+CMT``; -1 if
            (a part) lost because the SIM storage is full (50) or the module
            is not registered.
        :raises ValueError: a sender that cannot be one, a text over 255 parts.
        """
        with self._lock:
            return self._deliver_sms(sender, text, when, ref)

    def deliver_pdu(self, tpdu: str | bytes) -> int:
        """An SMS-DELIVER TPDU arrives as it is (no service-centre field):
        parts in any order, repeated, from the specification's examples.

        :returns: as :meth:`deliver_sms`.
        :raises ValueError: not an SMS-DELIVER.
        """
        octets = bytes.fromhex(tpdu) if isinstance(tpdu, str) else bytes(tpdu)
        with self._lock:
            if not self._reachable():
                log.warning("SMS PDU lost: module not registered")
                return -1
            return self._deliver_tpdu(octets)

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

    # -- the far end's voice (pcm=True) ---------------------------------------------------

    @property
    def pcm_path(self) -> str | None:
        """The PCM port's slave path, for ``serial.Serial(pcm_path)``; None
        without ``pcm=True`` or before :meth:`start`."""
        return self._pcm.path if self._pcm is not None else None

    @property
    def pcm_enabled(self) -> bool:
        """``AT+CPCMREG=1`` is in force (until the call ends or a reboot)."""
        return self._pcm_enabled

    @pcm_enabled.setter
    def pcm_enabled(self, on: bool) -> None:
        with self._lock:
            self._pcm_enabled = bool(on)
            self._sync_pcm()

    @property
    def pcm_streaming(self) -> bool:
        """Frames are flowing on the PCM port: PCM enabled during an active call."""
        return self._pcm is not None and self._pcm.streaming

    @property
    def pcm_frames_sent(self) -> int:
        """320-byte frames written to the PCM port so far (caller audio or silence)."""
        return self._pcm.frames_sent if self._pcm is not None else 0

    @property
    def captured_audio(self) -> bytearray:
        """What the box sent over the PCM port while streaming: what the far-end
        caller hears (S16LE mono 8 kHz). Appended to by the PCM thread."""
        return self._pcm.captured_audio if self._pcm is not None else bytearray()

    @property
    def discarded_bytes(self) -> int:
        """Bytes the box wrote to the PCM port while no stream was on, thrown away."""
        return self._pcm.discarded_bytes if self._pcm is not None else 0

    def play_caller_audio(self, samples: bytes) -> None:
        """Queue what the far-end caller says, S16LE mono 8 kHz. It goes out
        320 bytes per 20 ms frame while the stream is on (silence when the
        queue is empty). Audio queued before the call waits for it; whatever
        is still queued when the call ends (or the module reboots) is dropped.

        :raises EmulatorError: the emulator has no PCM port (``pcm=False``).
        :raises ValueError: an odd number of bytes.
        """
        if self._pcm is None:
            raise EmulatorError("no PCM port: construct the emulator with pcm=True")
        self._pcm.play(samples)

    def _sync_pcm(self) -> None:
        """Start or stop the PCM stream to match the line; under ``_lock``."""
        if self._pcm is None:
            return
        call = self._call
        active = call is not None and call.state == "active"
        self._pcm.set_streaming(self._pcm_enabled and active and not self._closed)

    def _forget_caller_audio(self) -> None:
        """The call is over: what its caller had still to say goes with it."""
        if self._pcm is not None:
            self._pcm.drop_caller_audio()

    # -- volatile state and reboots ------------------------------------------------------

    def _reset_settings(self) -> None:
        self._echo = True
        self._settings = {name: default for name, (default, _) in SETTINGS.items()}
        self._charset = self.dialect.charset
        self._cnmi = [2, 1, 0, 0, 0]
        self._csmp = [17, 167, 0, 0]
        self._ddet = [0, 0, 0, 0]
        self._s0 = 0
        self._cfun = 1

    def _begin_reboot(self) -> None:
        """Power is gone: drop everything volatile now, boot after boot_delay."""
        self._mode = None
        self._busy = False
        self._call = None
        self._sms = None
        self.pcm_enabled = False
        self._forget_caller_audio()
        self._server.clear_timers()
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
