"""One analog (FXO) line through a USB voice modem (V.253), behind the line face.

The same face as :class:`~firmware.lines.gsm_line.GsmLine` (non-blocking
``answer``/``hangup``/``dial``/``send_dtmf``, the rings, ``status()``,
reports to ``listener`` through ``post``), so the bank and the dialplan
cannot tell the two apart. The voice is in the modem's own data stream:
the driver paces it by the modem's clock and writes and reads the rings
directly.

Threads: the driver's reader (events: posted, never handled here), a
``worker`` for the commands the owner thread asked for, and a ``health``
thread that opens the modem, pings it every ``check_every`` seconds while
no call is up, and reopens it when it stops answering or vanishes (a USB
modem re-enumerating). A plain phone line has no SIM or network to
report: its states are ``up``, ``unresponsive`` and ``down``.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from firmware.hw.modem.at import ModemError, ModemTimeout
from firmware.hw.modem.gsm import CallEnded, DtmfReceived, IncomingCall
from firmware.hw.modem.v253 import VoiceModem
from firmware.lines.face import ModemLine

log = logging.getLogger(__name__)

UNRESPONSIVE_AFTER = 2


class FxoLine(ModemLine):
    kind = "fxo"

    def __init__(self, config: dict, *, listener, post: Callable[[Callable[[], None]], None],
                 check_every: float = 8.0, ping_timeout: float = 3.0):
        super().__init__(config, listener=listener, post=post, check_every=check_every)
        self.ping_timeout = ping_timeout
        self.modem: VoiceModem | None = None
        self.failures = 0
        self.actions: list[str] = []

    def close(self) -> None:
        super().close()
        self._drop_modem()

    def send_sms(self, number: str, text: str, ref: object = None) -> None:
        self.post(lambda: self.listener.sms_sent(self, ref, None, "an analog line cannot send texts"))

    def in_call(self) -> bool:
        modem = self.modem
        return bool(modem and (modem.in_call or modem.ringing))

    def recovery(self) -> list[str]:
        return list(self.actions[-5:])

    # -- driver events (its reader thread): translate and post ------------------------------
    def _on_event(self, event) -> None:
        listener = self.listener
        if isinstance(event, IncomingCall):
            self.post(lambda: listener.incoming(self, event.number or "anonymous"))
        elif isinstance(event, DtmfReceived):
            self.post(lambda: listener.digit(self, event.digit))
        elif isinstance(event, CallEnded):
            self.post(lambda: listener.ended(self, event.reason))
        # CallAnswered is reported by the worker once answer()/dial() return.

    # -- worker ---------------------------------------------------------------------------------
    def _modem(self) -> VoiceModem:
        if self.modem is None or self.state != "up":
            raise ModemError(f"the line is {self.state}")
        return self.modem

    def _do(self, job: tuple) -> None:
        kind = job[0]
        if kind == "answer":
            self._fresh_audio()
            self._modem().answer()
            self.post(lambda: self.listener.answered(self))
        elif kind == "dial":
            self._fresh_audio()
            self._modem().dial(job[1])          # blocks until the far end answers, or raises
            self.post(lambda: self.listener.answered(self))
        elif kind == "hangup":
            if self.modem is not None and (self.modem.in_call or self.modem.ringing):
                self.modem.hang_up()
        elif kind == "dtmf":
            self._modem().send_dtmf(job[1])

    # -- health ---------------------------------------------------------------------------------
    def check(self) -> str:
        if self.modem is None:
            return self._open()
        if self.modem.in_call or self.modem.ringing:
            return self.state               # never poke a modem that carries a call
        try:
            self.modem.at("AT", self.ping_timeout)
        except ModemTimeout:
            self.failures += 1
            if self.failures >= UNRESPONSIVE_AFTER:
                self._set("unresponsive", "no answer to AT")
                self.actions.append("reopen")
                self._drop_modem()
            return self.state
        except ModemError as exc:           # the port is gone
            self._drop_modem()
            return self._set("down", str(exc))
        self.failures = 0
        return self._set("up", "")

    def _open(self) -> str:
        modem = VoiceModem(self.config["device"], on_event=self._on_event, to_pbx=self.to_pbx,
                           from_pbx=self.from_pbx, timeout=self.ping_timeout)
        try:
            modem.start(init_timeout=self.ping_timeout)
        except ModemError as exc:
            modem.close()
            return self._set("down", str(exc))
        self.modem = modem
        self.failures = 0
        return self._set("up", "")

    def _drop_modem(self) -> None:
        modem, self.modem = self.modem, None
        if modem is not None:
            try:
                modem.close()
            except ModemError:
                pass

    def _set(self, state: str, detail: str) -> str:
        if state != self.state:
            log.log(logging.INFO if state == "up" else logging.WARNING, "line %s: %s -> %s %s",
                    self.name, self.state, state, detail)
            self.state, self.detail, self.since = state, detail, time.time()
            self.post(lambda: self.listener.state(self, state, detail))
        return state
