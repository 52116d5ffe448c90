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
- ``worker`` runs the commands the owner thread asked for (AT commands
  block for up to seconds; the owner thread must never wait on a modem);
- ``health`` runs the supervisor's check every ``check_every`` seconds
  (ping, SIM, network, recovery) and reads the signal;
- the PCM pump moves audio (firmware/lines/pcm_pump.py).
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
from typing import Callable

from firmware.core.ringbuffer import AudioRing
from firmware.errors import SmallPbxError
from firmware.hw.modem.at import ModemError
from firmware.hw.modem.gsm import (CallAnswered, CallEnded, DtmfReceived, GsmModem, IncomingCall,
                                   LineState, SmsReceived)
from firmware.hw.modem.sms_pdu import Reassembler
from firmware.hw.modem.supervisor import LineSupervisor
from firmware.lines.pcm_pump import SerialPcmPump

log = logging.getLogger(__name__)

CLCC = re.compile(r"^\+CLCC: ?\d+,(\d),(\d)")
DIAL_ANSWER_TIMEOUT_S = 60.0
DIAL_POLL_S = 0.3
# The modem's PCM frames come every 20 ms like pjsua's ticks, with little
# jitter: 30 ms of fill absorbs it (measured: bench/line_audio.py).
LINE_RING_TARGET_MS = 30
LINE_RING_MAX_MS = 120


class GsmLine:
    """
    :param config: the line's record (``firmware.config.lines``).
    :param listener: owner-thread object told what happens on the line.
    :param post: runs a function on the owner thread.
    :param power_pin: the hat's power/reset output pin, or None.
    """

    kind = "gsm"

    def __init__(self, config: dict, *, listener, post: Callable[[Callable[[], None]], None],
                 power_pin=None, check_every: float = 8.0, ping_timeout: float = 3.0):
        self.name = config["id"]
        self.config = config
        self.listener = listener
        self.post = post
        # Both rings keep LINE_RING_TARGET_MS of audio and correct the drift
        # between the modem's clock and pjsua's (see ringbuffer.py).
        self.to_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=LINE_RING_TARGET_MS)
        self.from_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=LINE_RING_TARGET_MS)
        self.check_every = check_every
        self.signal_dbm: int | None = None
        self.state = "starting"
        self.detail = ""
        self.since = time.time()
        self.supervisor = LineSupervisor(self._make_modem, on_state=self._on_state, power_pin=power_pin,
                                         check_every=check_every, ping_timeout=ping_timeout)
        # Levels: what the caller says (rx) and what the box says to them (tx).
        self.to_pbx.gain_db = config.get("rx_gain_db", 0)
        self.from_pbx.gain_db = config.get("tx_gain_db", 0)
        # The call's voice: the SIM7600's PCM serial port, or a sound card
        # (a USB audio modem, an analog hat's codec), or none configured.
        self.pump = None
        if config.get("pcm_device"):
            self.pump = SerialPcmPump(config["pcm_device"], self.to_pbx, self.from_pbx)
        elif config.get("sound_device"):
            from firmware.hw.soundcard import SoundCardLine
            self.pump = SoundCardLine(config["sound_device"], self.to_pbx, self.from_pbx,
                                      on_error=lambda exc: log.error("line %s: %s", self.name, exc))
        self._jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dialing = threading.Event()     # an outgoing call waits for its answer
        # Parts of long texts already read off the SIM (and deleted there):
        # kept by the line, so a reopened modem still joins them.
        self.sms_parts = Reassembler()

    # -- life ------------------------------------------------------------------------
    def start(self) -> None:
        if self.pump is not None:
            try:
                self.pump.start()
            except SmallPbxError as exc:     # no such sound card: calls still work, without voice
                log.error("line %s: no voice path: %s", self.name, exc)
                self.pump = None
        for target, name in ((self._work_loop, "worker"), (self._health_loop, "health")):
            thread = threading.Thread(target=target, name=f"line-{self.name}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self.pump is not None:
            self.pump.close()
        self.supervisor.close()

    def _make_modem(self) -> GsmModem:
        return GsmModem(self.config["device"], vendor=self.config.get("vendor", "sim7600"),
                        pin=self.config.get("pin") or None, on_event=self._on_modem_event,
                        reassembler=self.sms_parts)

    # -- the face the engine uses (any thread, never blocks) ------------------------------
    def answer(self) -> None:
        self._jobs.put(("answer",))

    def hangup(self) -> None:
        self._dialing.clear()
        self._jobs.put(("hangup",))

    def dial(self, number: str) -> None:
        self._jobs.put(("dial", number))

    def send_dtmf(self, digit: str) -> None:
        self._jobs.put(("dtmf", digit))

    def send_sms(self, number: str, text: str, ref: object = None) -> None:
        self._jobs.put(("sms", number, text, ref))

    def status(self) -> dict:
        modem = self.supervisor.modem
        return {"name": self.name, "kind": self.kind, "state": self.state, "detail": self.detail,
                "since": round(self.since, 1), "signal_dbm": self.signal_dbm,
                "in_call": bool(modem and (modem.in_call or modem.ringing)),
                "recovery": list(self.supervisor.actions[-5:]),
                "audio": {"underruns": self.to_pbx.underruns, "overruns": self.to_pbx.overruns}}

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
    def _work_loop(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._do(job)
            except (ModemError, ValueError) as exc:
                log.error("line %s: %s failed: %s", self.name, job[0], exc)
                self._job_failed(job, str(exc))
            except Exception as exc:   # the worker must outlive any surprise
                log.exception("line %s: %s failed", self.name, job[0])
                self._job_failed(job, f"internal error: {exc}")

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

    def _fresh_audio(self) -> None:
        self.to_pbx.clear()
        self.from_pbx.clear()

    def _job_failed(self, job: tuple, why: str) -> None:
        kind = job[0]
        if kind in ("answer", "dial"):
            self._dialing.clear()
            self.post(lambda: self.listener.ended(self, f"failed: {why}"))
        elif kind == "sms":
            self.post(lambda: self.listener.sms_sent(self, job[3], None, why))

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
    def _health_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.supervisor.check() == "up" and self.supervisor.modem is not None:
                    self.signal_dbm = self.supervisor.modem.signal_dbm(3.0)
            except ModemError as exc:
                log.debug("line %s: signal not read: %s", self.name, exc)
            except Exception:   # the line must outlive any modem surprise
                log.exception("line %s: health check failed", self.name)
            self._stop.wait(self.check_every)
