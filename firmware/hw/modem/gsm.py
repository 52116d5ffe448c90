"""A GSM/LTE voice modem on a serial port: the shop's SIM line.

Owns the modem's state (SIM, registration, call) and turns its unsolicited
lines into events (:class:`IncomingCall`, :class:`CallAnswered`,
:class:`CallEnded`, :class:`DtmfReceived`, :class:`SmsReceived`,
:class:`LineState`). Commands run on the caller's thread (one at a time);
URCs arrive on the AT reader thread, and work they need (reading a new SMS)
is handed to the modem's own worker thread. It never touches pjsua2: audio
is bridged elsewhere (issue 4's audio bridge).

Texts go both ways in PDU mode (``AT+CMGF=0``; :mod:`sms_pdu` encodes and
decodes): only there does a long text's User Data Header show, so its parts
can be joined. ``+CMTI`` → ``AT+CMGR=<i>`` → decoded → the line's
:class:`~firmware.hw.modem.sms_pdu.Reassembler`, which saves it in its
journal (if it has one) → ``AT+CMGD=<i>`` at once (the SIM never fills up,
even with half a text on it) → one :class:`SmsReceived` per whole text,
naming the journal rows its storer forgets. A part the journal refused
stays on the SIM (read again at the next init). A text still missing a
part after the reassembler's timeout is reported with the gap marked; the
worker thread gives those out while it waits for work. ``send_sms`` splits
a long text and sends each part with its own ``AT+CMGS=<length>``.

SIM PIN: entered once from the config; if the SIM refuses it, it is never
sent again (a second blind retry would use up the attempts and lock the SIM
with its PUK). A SIM that asks for its PUK is reported, never touched.

Wiring (SIM7600/EC25 hats): the module's USB gives /dev/ttyUSB2 (AT) and
/dev/ttyUSB4 (PCM audio on SIM7600); a SIM800 hat uses the Pi's UART
(/dev/serial0, GPIO14/15). Any pyserial URL works (a pty, socket://).
"""
from __future__ import annotations

import logging
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

import serial

from firmware.hw.modem.at import AtChannel, CommandError, ModemError, ModemTimeout
from firmware.hw.modem.sms_pdu import (JournalError, Message, PduError, Reassembler, SmsDeliver, decode_deliver,
                                       encode_submit)
from firmware.hw.modem.vendors import Vendor, is_urc, vendor as get_vendor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncomingCall:
    number: str


@dataclass(frozen=True)
class CallAnswered:
    pass


@dataclass(frozen=True)
class CallEnded:
    reason: str


@dataclass(frozen=True)
class DtmfReceived:
    digit: str


@dataclass(frozen=True)
class SmsReceived(Message):
    """A whole text (all its parts joined), as an event: the reassembler's
    :class:`~firmware.hw.modem.sms_pdu.Message` (sender, text, ``sent_at``
    as text mode shows it, parts, missing, journal rows)."""

    @classmethod
    def of(cls, message: Message) -> "SmsReceived":
        return cls(**vars(message))


@dataclass(frozen=True)
class LineState:
    state: str      # "up", "down", "sim-pin-rejected", "sim-puk", "sim-missing", "no-network"
    detail: str = ""


CLIP = re.compile(r'^\+CLIP: ?"([^"]*)"')
CMTI = re.compile(r'^\+CMTI: ?"(\w+)",(\d+)')
# PDU mode: +CMGR: <stat>,[<alpha>],<length> / +CMGL: <index>,<stat>,[<alpha>],<length>
CMGR = re.compile(r'^\+CMGR: ?(\d+),(?:"[^"]*"|[^,]*),(\d+)')
CMGL = re.compile(r'^\+CMGL: ?(\d+),(\d+),(?:"[^"]*"|[^,]*),(\d+)')
STORED_SENT = (2, 3)          # <stat> of messages stored to send: not texts received
EXPIRY_POLL_S = 60.0          # the worker's longest wait before checking half texts
DTMF_KEYS = set("0123456789*#ABCD")


def _ucs2_decode(text: str) -> str:
    if text and len(text) % 4 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", text):
        try:
            return bytes.fromhex(text).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return text
    return text


class GsmModem:
    """
    :param url: serial device or pyserial URL.
    :param vendor: ``sim7600``, ``sim800`` or ``ec25``.
    :param pin: the SIM PIN from the config, or None.
    :param on_event: receives the events above (from the modem's threads).
    :param reassembler: joins long texts; pass the line's own so that parts
        already read survive a new modem object (the supervisor's reopen).
    :param clock: monotonic seconds, for the reassembler's timeout.
    """

    def __init__(self, url: str, *, vendor: str, pin: str | None = None,
                 on_event: Callable[[object], None] = lambda e: None,
                 open_port: Callable[..., object] = serial.serial_for_url,
                 reassembler: Reassembler | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.url = url
        self.vendor: Vendor = get_vendor(vendor)
        self.pin = pin
        self.on_event = on_event
        self.open_port = open_port
        self.port = None
        self.channel: AtChannel | None = None
        self.caller = ""
        self.in_call = False
        self.ringing = False
        self.pin_rejected = False
        self._ring_pending = False
        self._work: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.sms_parts = reassembler if reassembler is not None else Reassembler()
        self.clock = clock
        self._concat_ref = random.randrange(256)   # a recipient keys parts by sender and reference

    # -- lifecycle ---------------------------------------------------------------
    def start(self, init_timeout: float = 5.0) -> None:
        try:
            self.port = self.open_port(self.url, baudrate=115200, timeout=0.1)
        except (OSError, ValueError) as exc:
            raise ModemError(f"cannot open {self.url}: {exc}") from exc
        self.channel = AtChannel(self.port, is_urc=lambda line: is_urc(self.vendor, line), on_urc=self._urc)
        self.channel.start()
        self._worker = threading.Thread(target=self._work_loop, name="modem-worker", daemon=True)
        self._worker.start()
        self.init(init_timeout)

    def close(self) -> None:
        self._stop.set()
        self._work.put(None)
        if self._worker is not None:
            self._worker.join(timeout=2)
            self._worker = None
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.port is not None:
            try:
                self.port.close()
            except OSError:
                pass
            self.port = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def at(self, command: str, timeout: float = 5.0, **kw) -> list[str]:
        if self.channel is None:
            raise ModemError("the modem is not started")
        return self.channel.command(command, timeout, **kw)

    # -- set-up -----------------------------------------------------------------
    def init(self, timeout: float = 5.0) -> str:
        """Bring the modem to a known state; returns the line state."""
        for attempt in range(3):
            try:
                self.at("AT", timeout=timeout / 3)
                break
            except ModemTimeout:
                if attempt == 2:
                    raise
        for cmd in ("ATE0", "AT+CMEE=1"):
            self.at(cmd, timeout)
        state = self._unlock_sim(timeout)
        if state != "ready":
            self.on_event(LineState(state))
            return state
        for cmd in ("AT+CLIP=1", "AT+CRC=1", *self.vendor.init, "AT+CMGF=0", 'AT+CSCS="UCS2"',
                    "AT+CNMI=2,1,0,0,0"):
            self.at(cmd, timeout)
        self._work.put(("read-all-sms",))
        state = "up" if self.registered(timeout) else "no-network"
        self.on_event(LineState(state))
        return state

    def sim_state(self, timeout: float = 5.0) -> str:
        try:
            lines = self.at("AT+CPIN?", timeout)
        except CommandError as exc:
            if exc.cme == 10:
                return "sim-missing"
            raise
        text = " ".join(lines)
        if "READY" in text:
            return "ready"
        if "SIM PUK" in text:
            return "sim-puk"
        if "SIM PIN" in text:
            return "sim-pin"
        return "unknown"

    def _unlock_sim(self, timeout: float) -> str:
        state = self.sim_state(timeout)
        if state != "sim-pin":
            return state
        if not self.pin:
            return "sim-pin-needed"
        if self.pin_rejected:
            return "sim-pin-rejected"
        left = self.pin_attempts_left(timeout)
        if left is not None and left <= 1:
            # One try left: a wrong PIN now would lock the SIM. Leave it to a person.
            log.error("SIM has %d PIN attempt left: not entering the configured PIN", left)
            return "sim-pin-rejected"
        try:
            self.at(f'AT+CPIN="{self.pin}"', timeout)
        except CommandError as exc:
            self.pin_rejected = True
            log.error("SIM refused the configured PIN (%s): it will not be tried again", exc.code)
            return "sim-pin-rejected"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sim_state(timeout) == "ready":
                return "ready"
            self._stop.wait(0.2)
        return "sim-pin-needed"

    def pin_attempts_left(self, timeout: float = 5.0) -> int | None:
        if not self.vendor.pin_attempts:
            return None
        try:
            lines = self.at(self.vendor.pin_attempts, timeout)
        except CommandError:
            return None
        for line in lines:
            m = self.vendor.pin_attempts_urc.match(line) if self.vendor.pin_attempts_urc else None
            if m:
                return int(m.group(1))
        return None

    def registered(self, timeout: float = 5.0) -> bool:
        for cmd in ("AT+CREG?", "AT+CEREG?"):
            try:
                lines = self.at(cmd, timeout)
            except CommandError:
                continue
            for line in lines:
                m = re.match(r"^\+CE?REG: ?\d,(\d)", line)
                if m and m.group(1) in ("1", "5"):
                    return True
        return False

    def signal_dbm(self, timeout: float = 5.0) -> int | None:
        """Received signal strength in dBm (AT+CSQ), None when unknown."""
        for line in self.at("AT+CSQ", timeout):
            m = re.match(r"^\+CSQ: ?(\d+),", line)
            if m and m.group(1) != "99":
                return -113 + 2 * int(m.group(1))
        return None

    # -- calls --------------------------------------------------------------------
    def answer(self) -> None:
        # In a call before ATA's OK: VOICE CALL: BEGIN may follow it at once,
        # and the worker switches the voice on only during a call.
        self.in_call = True
        try:
            self.at("ATA", 10)
        except ModemError:
            self.in_call = False
            raise
        self.ringing = False
        self._voice_without_begin()

    def hang_up(self) -> None:
        self.at(self.vendor.hang_up, 10)
        self.in_call = self.ringing = False

    def dial(self, number: str) -> None:
        if not re.fullmatch(r"\+?[0-9*#]{1,32}", number):
            raise ValueError(f"not a dialable number: {number!r}")
        # In a call from the moment ATD goes out: a far end that rejects at
        # once sends NO CARRIER before (or with) ATD's OK, and it must count.
        self.in_call = True
        try:
            self.at(f"ATD{number};", 30)
        except ModemError:
            self.in_call = False
            raise
        self._voice_without_begin()

    def _voice_without_begin(self) -> None:
        """The PCM voice port is switched on once the call is connected:
        at ``VOICE CALL: BEGIN`` (the worker, see :meth:`_urc`), since the
        SIM7600 takes ``AT+CPCMREG=1`` only during a voice call, and ATD's
        OK comes before the far end answers. A vendor that announces no
        begin gets it here."""
        if self.vendor.pcm_audio and not self.vendor.call_begin:
            self.at(self.vendor.pcm_audio)

    def send_dtmf(self, digit: str) -> None:
        if digit not in DTMF_KEYS:
            raise ValueError(f"not a DTMF key: {digit!r}")
        self.at(f"AT+VTS={digit}")

    # -- SMS -----------------------------------------------------------------------
    def send_sms(self, number: str, text: str, timeout: float = 30.0) -> int:
        """Send a text in any language (7-bit when it fits the GSM alphabet,
        UCS2 otherwise); a long one goes in concatenated parts, one
        ``AT+CMGS`` each. Returns the first part's message reference.

        :raises ValueError: not a phone number, or a text over 255 parts.
        :raises ModemError: the modem refused a part (the parts before it are sent).
        """
        if not re.fullmatch(r"\+?[0-9]{3,20}", number):
            raise ValueError(f"not a phone number: {number!r}")
        pdus = encode_submit(number, text, ref=self._concat_ref)
        if len(pdus) > 1:
            self._concat_ref = (self._concat_ref + 1) % 256
        first = -1
        for n, pdu in enumerate(pdus):
            lines = self.at(f"AT+CMGS={pdu.tpdu_length}", timeout, data=pdu.hex)
            reference = next((int(m.group(1)) for m in (re.match(r"^\+CMGS: ?(\d+)", x) for x in lines) if m), -1)
            if n == 0:
                first = reference
        return first

    def read_sms(self, index: int) -> SmsDeliver | None:
        """The message (or part of a long one) stored at ``index``, decoded;
        None for an empty slot or a message stored to be sent.

        :raises PduError: the modem's PDU makes no sense.
        """
        stored = self._read_pdu(index)
        if stored is None or stored[0] in STORED_SENT:
            return None
        return decode_deliver(stored[2], tpdu_length=stored[1])

    def _read_pdu(self, index: int) -> tuple[int, int, str] | None:
        """``(stat, tpdu length, pdu hex)`` of slot ``index``, None if empty."""
        lines = self.at(f"AT+CMGR={index}", 10)
        for i, line in enumerate(lines):
            m = CMGR.match(line)
            if m and i + 1 < len(lines):
                return int(m.group(1)), int(m.group(2)), lines[i + 1]
        return None

    def _stored_pdus(self) -> list[tuple[int, int, int, str]]:
        """``(index, stat, tpdu length, pdu hex)`` of every stored message."""
        lines = self.at("AT+CMGL=4", 10)
        out = []
        for i, line in enumerate(lines):
            m = CMGL.match(line)
            if m and i + 1 < len(lines):
                out.append((int(m.group(1)), int(m.group(2)), int(m.group(3)), lines[i + 1]))
        return out

    def _accept(self, stat: int, length: int, pdu: str) -> list[Message]:
        """Hand a stored PDU to the reassembler; the texts complete now.

        :raises JournalError: the reassembler's journal did not keep it.
        """
        if stat in STORED_SENT:
            log.info("deleting a message stored to be sent (not a text received)")
            return []
        try:
            part = decode_deliver(pdu, tpdu_length=length)
        except PduError as exc:
            # Never lost without a trace: the owner sees that something came
            # (through the reassembler, so its journal keeps the notice too).
            log.error("unreadable text message (%s): %s", exc, pdu)
            part = SmsDeliver(sender="", text=f"[unreadable text message: {pdu}]", timestamp=None)
        if part.silent:
            log.info("silent message (type 0) from %s discarded", part.sender)
            return []
        return self.sms_parts.add(part, self.clock())

    def _hand_out(self, messages: list[Message]) -> None:
        for m in messages:
            self.on_event(SmsReceived.of(m))

    # -- unsolicited lines (reader thread) -----------------------------------------
    def _urc(self, line: str) -> None:
        v = self.vendor
        if line in ("RING",) or line.startswith("+CRING"):
            if not self.ringing:
                self.ringing = True
                self._ring_pending = True
            return
        m = CLIP.match(line)
        if m:
            number = _ucs2_decode(m.group(1))
            if self._ring_pending:
                self._ring_pending = False
                self.caller = number
                self.on_event(IncomingCall(number))
            return
        m = v.dtmf_urc.match(line)
        if m:
            digit = chr(int(m.group(1))) if v.dtmf_is_ascii_code else m.group(1)
            if digit in DTMF_KEYS:
                self.on_event(DtmfReceived(digit))
            return
        if v.call_begin and v.call_begin.match(line):
            if v.pcm_audio:
                self._work.put(("voice-on",))   # an AT command: not on the reader thread
            self.on_event(CallAnswered())
            return
        if line in ("NO CARRIER", "BUSY", "NO ANSWER") or (v.call_end and v.call_end.match(line)):
            if self.in_call or self.ringing:
                self.in_call = self.ringing = False
                self.on_event(CallEnded(line.lower()))
            return
        m = CMTI.match(line)
        if m:
            self._work.put(("read-sms", int(m.group(2))))
            return
        if line in ("RDY", "Call Ready") or line.startswith("+CPIN: NOT READY"):
            log.warning("the modem restarted (%s): setting it up again", line)
            self._work.put(("reinit",))

    # -- worker: what URCs ask for -------------------------------------------------
    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the jobs URCs asked for (SMS reads, re-init) are done."""
        deadline = time.monotonic() + timeout
        while self._work.unfinished_tasks and time.monotonic() < deadline:
            self._stop.wait(0.01)
        return not self._work.unfinished_tasks

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._work.get(timeout=self._wait_for_work())
            except queue.Empty:
                self._hand_out(self.sms_parts.expire(self.clock()))
                continue
            if job is None:
                self._work.task_done()
                return
            try:
                if job[0] == "read-sms":
                    self._take_sms(job[1])
                elif job[0] == "read-all-sms":
                    for index, stat, length, pdu in self._stored_pdus():
                        self._take_sms(index, (stat, length, pdu))
                elif job[0] == "voice-on":
                    if self.in_call:
                        self.at(self.vendor.pcm_audio)
                elif job[0] == "reinit":
                    self.in_call = self.ringing = False
                    self.init()
            except ModemError as exc:
                log.error("modem job %s failed: %s", job[0], exc)
            finally:
                self._work.task_done()

    def _wait_for_work(self) -> float:
        """How long the worker may wait for a job before a half text is due."""
        deadline = self.sms_parts.next_deadline()
        if deadline is None:
            return EXPIRY_POLL_S
        return min(EXPIRY_POLL_S, max(0.05, deadline - self.clock()))

    def _take_sms(self, index: int, stored: tuple[int, int, str] | None = None) -> None:
        """Read a stored message (unless ``stored`` has it), hand it to the
        reassembler (whose journal has it once that returns), delete it so
        the SIM never fills up, then report the texts that are whole now."""
        if stored is None:
            stored = self._read_pdu(index)
        try:
            messages = self._accept(*stored) if stored is not None else []
        except JournalError as exc:
            # Kept nowhere else: the SIM holds it until the next init reads it again.
            log.error("text message %d left on the SIM: %s", index, exc)
            return
        try:
            self.at(f"AT+CMGD={index}")
        finally:
            self._hand_out(messages)
