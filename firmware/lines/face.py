"""What every modem line (GSM, FXO) shares: the face the engine and bank use.

The face never blocks: ``answer``, ``hangup``, ``dial``, ``send_dtmf`` and
``send_sms`` queue a job for the line's ``worker`` thread, which talks to
the modem (AT commands take up to seconds; the core's owner thread must
never wait on one). A ``health`` thread runs the subclass's :meth:`check`
every ``check_every`` seconds. The line's voice goes through two rings,
``to_pbx`` and ``from_pbx``, held at LINE_RING_TARGET_MS and emptied at
the start of each call. What happens on the line reaches ``listener``
only through ``post`` (so on the owner thread).

A subclass provides ``_do(job)`` (run one job), ``check()`` (one health
check) and the modem events it translates.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from firmware.core.ringbuffer import AudioRing
from firmware.hw.modem.at import ModemError

log = logging.getLogger(__name__)

# A modem's voice frames come every 20 ms like pjsua's ticks. A read takes
# 20 ms and a frame brings 20 ms, so at a 30 ms fill only 10 ms separate
# the two threads' ticks from an underrun, and pjsua's clock catches up a
# late tick with reads back to back. bench/line_audio.py: at 30 ms, 1-2
# underruns (clicks) in each of 7 runs, and each call starts again at the
# configured target; at 40 ms, none in 6 of 8 runs. A busier host's late
# threads raise the rings' targets further by themselves (ringbuffer).
LINE_RING_TARGET_MS = 40
LINE_RING_MAX_MS = 120


class ModemLine:
    kind = ""

    def __init__(self, config: dict, *, listener, post: Callable[[Callable[[], None]], None],
                 check_every: float = 8.0, ring_target_ms: float = LINE_RING_TARGET_MS):
        self.name = config["id"]
        self.config = config
        self.listener = listener
        self.post = post
        self.check_every = check_every
        # Levels: what the caller says (rx) and what the box says to them (tx);
        # both rings correct the drift between the modem's clock and pjsua's.
        self.to_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=ring_target_ms, gain_db=config.get("rx_gain_db", 0))
        self.from_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=ring_target_ms, gain_db=config.get("tx_gain_db", 0))
        self.signal_dbm: int | None = None
        self.state = "starting"
        self.detail = ""
        self.since = time.time()
        self._jobs: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- life ------------------------------------------------------------------------
    def start(self) -> None:
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

    # -- the face (any thread, never blocks) ---------------------------------------------
    def answer(self) -> None:
        self._jobs.put(("answer",))

    def hangup(self) -> None:
        self._jobs.put(("hangup",))

    def dial(self, number: str) -> None:
        self._jobs.put(("dial", number))

    def send_dtmf(self, digit: str) -> None:
        self._jobs.put(("dtmf", digit))

    def send_sms(self, number: str, text: str, ref: object = None) -> None:
        self._jobs.put(("sms", number, text, ref))

    def status(self) -> dict:
        return {"name": self.name, "kind": self.kind, "state": self.state, "detail": self.detail,
                "since": round(self.since, 1), "signal_dbm": self.signal_dbm,
                "in_call": self.in_call(), "recovery": self.recovery(),
                "audio": {"to_pbx": self.to_pbx.counters(), "from_pbx": self.from_pbx.counters()}}

    def in_call(self) -> bool:
        return False

    def recovery(self) -> list[str]:
        return []

    # -- worker -------------------------------------------------------------------------
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

    def _do(self, job: tuple) -> None:
        raise NotImplementedError

    def _job_failed(self, job: tuple, why: str) -> None:
        if job[0] in ("answer", "dial"):
            self.post(lambda: self.listener.ended(self, f"failed: {why}"))
        elif job[0] == "sms":
            self.post(lambda: self.listener.sms_sent(self, job[3], None, why))

    def _fresh_audio(self) -> None:
        """A new call must not hear the last one's tail."""
        self.to_pbx.clear()
        self.from_pbx.clear()

    # -- health ---------------------------------------------------------------------------
    def _health_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:   # the line must outlive any modem surprise
                log.exception("line %s: health check failed", self.name)
            self._stop.wait(self.check_every)

    def check(self) -> str:
        raise NotImplementedError
