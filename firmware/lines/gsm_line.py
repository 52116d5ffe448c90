"""One GSM line: the modem driver, its supervisor and its audio, behind one face.

Every line kind (GSM here; FXO and SIP trunks later) offers the engine the
same non-blocking face: ``answer()``, ``hangup()``, ``dial(number)``,
``send_dtmf(digit)``, ``send_sms(number, text)``, its two audio rings
``to_pbx``/``from_pbx`` and ``status()``. What happens on the line comes
back through ``listener`` (``incoming``, ``answered``, ``digit``,
``ended``, ``sms``, ``state``, ``sms_sent``), always called through
``post`` so it runs on the core's owner thread.

Threads:
- the modem's reader thread (URCs) only translates events and posts them;
- the modem's worker thread reads texts off the SIM and, through the
  reassembler, saves each in the journal (records.db) before deleting it;
- ``worker`` runs the commands the owner thread asked for (AT commands
  block for up to seconds; the owner thread must never wait on a modem);
- ``health`` runs the supervisor's check every ``check_every`` seconds
  (ping, SIM, network, recovery) and reads the signal;
- the PCM pump moves audio (firmware/lines/pcm_pump.py).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from typing import Callable

from firmware.errors import SmallPbxError
from firmware.hw import soundcard
from firmware.hw.modem.at import ModemError
from firmware.hw.modem.gsm import (CallAnswered, CallEnded, DtmfReceived, GsmModem, IncomingCall,
                                   LineState, SmsReceived)
from firmware.hw.modem.sms_pdu import JournalError, PartJournal, Reassembler
from firmware.hw.modem.supervisor import LineSupervisor
from firmware.lines.face import LINE_RING_TARGET_MS, ModemLine
from firmware.lines.pcm_pump import SerialPcmPump

log = logging.getLogger(__name__)

CLCC = re.compile(r"^\+CLCC: ?\d+,(\d),(\d)")
DIAL_ANSWER_TIMEOUT_S = 60.0
DIAL_POLL_S = 0.3


class GsmLine(ModemLine):
    """
    :param config: the line's record (``firmware.config.lines``).
    :param listener: owner-thread object told what happens on the line.
    :param post: runs a function on the owner thread.
    :param power_pin: the hat's power/reset output pin, or None.
    """

    kind = "gsm"

    def __init__(self, config: dict, *, listener, post: Callable[[Callable[[], None]], None],
                 power_pin=None, check_every: float = 8.0, ping_timeout: float = 3.0):
        # The call's voice: the SIM7600's PCM serial port, or a sound card
        # (a USB audio modem, an analog hat's codec), or none configured. A
        # card delivers a period at a time (JACK: ~21 ms, not 20 ms frames),
        # so its rings hold more.
        card = "" if config.get("pcm_device") else config.get("sound_device", "")
        super().__init__(config, listener=listener, post=post, check_every=check_every,
                         ring_target_ms=soundcard.RING_TARGET_MS if card else LINE_RING_TARGET_MS)
        self.supervisor = LineSupervisor(self._make_modem, on_state=self._on_state, power_pin=power_pin,
                                         check_every=check_every, ping_timeout=ping_timeout)
        self.pump = None
        if config.get("pcm_device"):
            self.pump = SerialPcmPump(config["pcm_device"], self.to_pbx, self.from_pbx)
        elif card:
            self.pump = soundcard.SoundCardLine(card, self.to_pbx, self.from_pbx,
                                                on_error=lambda exc: log.error("line %s: %s", self.name, exc))
        self._dialing = threading.Event()     # an outgoing call waits for its answer
        # Parts of long texts already read off the SIM (and deleted there):
        # kept by the line, so a reopened modem still joins them, and in a
        # journal once keep_sms_parts_in() gives one, so a restart does too.
        self.sms_parts = Reassembler()

    # -- life ------------------------------------------------------------------------
    def keep_sms_parts_in(self, journal: PartJournal) -> None:
        """Save every text taken off the SIM in ``journal`` until it is
        stored whole (:mod:`firmware.lines.sms_journal`). Before :meth:`start`."""
        self.sms_parts = Reassembler(journal=journal)

    def start(self) -> None:
        self._restore_sms()
        if self.pump is not None:
            try:
                self.pump.start()
            except SmallPbxError as exc:     # no such sound card: calls still work, without voice
                log.error("line %s: no voice path: %s", self.name, exc)
                self.pump = None
        super().start()

    def close(self) -> None:
        super().close()
        if self.pump is not None:
            self.pump.close()
        self.supervisor.close()

    def _restore_sms(self) -> None:
        """Parts the journal kept through a restart wait again, on the
        modem's clock; texts already whole (or overdue) go to the listener."""
        try:
            texts = self.sms_parts.restore(time.monotonic())
        except JournalError as exc:   # they stay in the journal for the next start
            log.error("line %s: kept text parts not loaded: %s", self.name, exc)
            return
        for message in texts:
            self._on_modem_event(SmsReceived.of(message))

    def _make_modem(self) -> GsmModem:
        return GsmModem(self.config["device"], vendor=self.config.get("vendor", "sim7600"),
                        pin=self.config.get("pin") or None, on_event=self._on_modem_event,
                        reassembler=self.sms_parts)

    def hangup(self) -> None:
        self._dialing.clear()
        super().hangup()

    def in_call(self) -> bool:
        modem = self.supervisor.modem
        return bool(modem and (modem.in_call or modem.ringing))

    def recovery(self) -> list[str]:
        return list(self.supervisor.actions[-5:])

    # -- modem events (reader thread): translate and post ----------------------------------
    def _on_modem_event(self, event) -> None:
        listener = self.listener
        if isinstance(event, IncomingCall):
            self.post(lambda: listener.incoming(self, event.number))
        elif isinstance(event, DtmfReceived):
            self.post(lambda: listener.digit(self, event.digit))
        elif isinstance(event, CallAnswered):
            if self._dialing.is_set():
                self._dialing.clear()
                self.post(lambda: listener.answered(self))
        elif isinstance(event, CallEnded):
            self._dialing.clear()
            self.post(lambda: listener.ended(self, event.reason))
        elif isinstance(event, SmsReceived):
            self.post(lambda: listener.sms(self, event))
        elif isinstance(event, LineState):
            pass  # the supervisor reports states (one source of truth)

    def _on_state(self, state: str, detail: str) -> None:
        self.state, self.detail, self.since = state, detail, time.time()
        self.post(lambda: self.listener.state(self, state, detail))

    # -- worker: the commands ---------------------------------------------------------------
    def _modem(self) -> GsmModem:
        modem = self.supervisor.modem
        if modem is None or self.state != "up":
            raise ModemError(f"the line is {self.state}")
        return modem

    def _do(self, job: tuple) -> None:
        kind = job[0]
        if kind == "answer":
            self._fresh_audio()
            self._modem().answer()
            self.post(lambda: self.listener.answered(self))
        elif kind == "hangup":
            modem = self.supervisor.modem
            if modem is not None and (modem.in_call or modem.ringing):
                modem.hang_up()
        elif kind == "dial":
            self._fresh_audio()
            self._dialing.set()
            self._modem().dial(job[1])
            self._wait_for_answer()
        elif kind == "dtmf":
            self._modem().send_dtmf(job[1])
        elif kind == "sms":
            _, number, text, ref = job
            reference = self._modem().send_sms(number, text)
            self.post(lambda: self.listener.sms_sent(self, ref, reference, ""))

    def _job_failed(self, job: tuple, why: str) -> None:
        if job[0] in ("answer", "dial"):
            self._dialing.clear()
        super()._job_failed(job, why)

    def _wait_for_answer(self) -> None:
        """Poll the call list until the far end answers (portable across modules:
        not every one reports it unasked)."""
        deadline = time.monotonic() + DIAL_ANSWER_TIMEOUT_S
        while self._dialing.is_set() and time.monotonic() < deadline and not self._stop.is_set():
            modem = self.supervisor.modem
            if modem is None:
                return
            calls = [m for m in map(CLCC.match, modem.at("AT+CLCC", 5)) if m]
            if any(m.group(2) == "0" for m in calls):   # stat 0: active
                if self._dialing.is_set():
                    self._dialing.clear()
                    self.post(lambda: self.listener.answered(self))
                return
            if not calls and not modem.in_call:
                return                                  # gone: CallEnded has been reported
            self._stop.wait(DIAL_POLL_S)
        if self._dialing.is_set():
            self._dialing.clear()
            log.info("line %s: no answer within %.0f s", self.name, DIAL_ANSWER_TIMEOUT_S)
            try:
                self.supervisor.modem.hang_up()
            except (ModemError, AttributeError):
                pass
            self.post(lambda: self.listener.ended(self, "no answer"))

    # -- health ---------------------------------------------------------------------------------
    def check(self) -> str:
        state = self.supervisor.check()
        if state == "up" and self.supervisor.modem is not None:
            try:
                self.signal_dbm = self.supervisor.modem.signal_dbm(3.0)
            except ModemError as exc:
                log.debug("line %s: signal not read: %s", self.name, exc)
        return state
