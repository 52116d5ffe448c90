"""Keeps a modem line alive: notices trouble within 30 s and escalates.

Every ``check_every`` seconds (8) the supervisor pings the modem and reads
its SIM and network state. Two failed pings in a row (at most 22 s) make the
line "unresponsive", and recovery escalates one step per check:

1. open the port again and re-run the init (a USB modem that re-enumerated,
   a stuck AT parser);
2. the modem's own reset, ``AT+CFUN=1,1``;
3. a pulse on the power/reset GPIO, if the hat has one wired.

A call in progress is never interrupted for this unless the modem is dead
(three failed pings: it carries no call any more). A missing SIM, a refused
PIN or no network are reported, not "fixed" by resets that cannot help.
Each change of state goes to ``on_state`` (the core logs it, shows it on
the control socket and the panel, and raises the line-down alert).

Time comes from ``clock`` and waits use a stop Event, so tests drive
:meth:`check` directly.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from firmware.hw.modem.at import ModemError, ModemTimeout
from firmware.hw.modem.gsm import GsmModem

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 3.0
UNRESPONSIVE_AFTER = 2     # failed pings in a row
DEAD_AFTER = 3             # ... after which even a call is given up
POWER_PULSE_S = 1.5


class LineSupervisor:
    """
    :param make_modem: builds a fresh, not yet started :class:`GsmModem`.
    :param on_state: called with ``(state, detail)`` when the state changes.
    :param power_pin: an output pin (firmware.hw.pins) that power-cycles the
        module when pulsed high, or None.
    """

    def __init__(self, make_modem: Callable[[], GsmModem], *, on_state: Callable[[str, str], None],
                 power_pin=None, check_every: float = 8.0, ping_timeout: float = PING_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        self.ping_timeout = ping_timeout
        self.make_modem = make_modem
        self.on_state = on_state
        self.power_pin = power_pin
        self.check_every = check_every
        self.clock = clock
        self.modem: GsmModem | None = None
        self.state = "starting"
        self.failures = 0
        self.escalation = 0
        self.actions: list[str] = []   # what recovery did, in order (for status and tests)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if power_pin is not None:
            power_pin.setup_output()

    # -- one health check -------------------------------------------------------------
    def check(self) -> str:
        if self.modem is None:
            if self.escalation:           # recovering: the next step, not the same one again
                self._recover()
                return self.state
            return self._open()
        try:
            self.modem.at("AT", self.ping_timeout)
        except ModemTimeout:
            return self._failed("no answer to AT")
        except ModemError as exc:          # the port is gone (USB modem vanished)
            self._drop_modem()
            return self._set("down", str(exc))
        self.failures = 0
        self.escalation = 0
        return self._read_state()

    def _read_state(self) -> str:
        try:
            sim = self.modem.sim_state(self.ping_timeout)
            if sim != "ready":
                return self._set("sim-pin-rejected" if self.modem.pin_rejected else sim, "")
            return self._set("up" if self.modem.registered(self.ping_timeout) else "no-network", "")
        except ModemError as exc:
            return self._failed(str(exc))

    def _failed(self, why: str) -> str:
        self.failures += 1
        in_call = self.modem is not None and self.modem.in_call
        if self.failures < UNRESPONSIVE_AFTER or (in_call and self.failures < DEAD_AFTER):
            return self.state  # one slow answer, or a call we must not cut: wait
        self._set("unresponsive", why)
        self._recover()
        return self.state

    def _recover(self) -> None:
        self.escalation += 1
        if self.escalation == 1:
            self.actions.append("reopen")
            self._drop_modem()
            self._open()
        elif self.escalation == 2 and self.modem is not None:
            self.actions.append("modem-reset")
            try:
                self.modem.at("AT+CFUN=1,1", self.ping_timeout)
            except ModemError as exc:
                log.warning("modem reset command failed: %s", exc)
        elif self.power_pin is not None:
            self.actions.append("power-cycle")
            self._drop_modem()
            self.power_pin.write(True)
            self._stop.wait(POWER_PULSE_S)
            self.power_pin.write(False)
            self.escalation = 0  # start over after the power cycle
        else:
            self.actions.append("give-up")
            self._set("down", "unresponsive; no power pin to cycle it")
            self.escalation = 0

    def _open(self) -> str:
        modem = self.make_modem()
        try:
            modem.start(init_timeout=self.ping_timeout)
        except ModemError as exc:
            modem.close()
            return self._set("down", str(exc))
        self.modem = modem
        self.failures = 0
        return self._read_state()

    def _drop_modem(self) -> None:
        if self.modem is not None:
            self.modem.close()
            self.modem = None

    def _set(self, state: str, detail: str) -> str:
        if state != self.state:
            log.log(logging.INFO if state == "up" else logging.WARNING, "line %s -> %s %s",
                    self.state, state, detail)
            self.state = state
            self.on_state(state, detail)
        return state

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="line-supervisor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the supervisor must outlive any modem surprise
                log.exception("line check failed")
            self._stop.wait(self.check_every)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._drop_modem()
