"""The box's phone lines on the owner thread: calls, outbound routes, SMS, alerts.

:class:`LineBank` is the listener every line driver reports to (through
``post``, so all of this runs on the core's owner thread and needs no
locks). It maps a line's calls onto the engine's line legs, which the
contact center then drives like SIP legs: an incoming call takes the
line's inbound route. It is also the leg owner for extensions calling out:
a SIP leg whose number matches an outbound route rings the far end through
a line, and the two legs are bridged when it answers. Texts are stored in
the record store; a line going down or coming back raises an alert. A line
that takes texts off a SIM gets a journal in the record store before it
starts (:mod:`firmware.lines.sms_journal`), so a restart loses none, and a
text's journal rows go in the transaction that stores it.

It never imports pjsua2 or touches a serial port: the engine and the line
drivers do that.
"""
from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import Callable

from firmware.config.lines import LinesConfig
from firmware.errors import CapacityError, ControlError
from firmware.lines.alerts import Alerter
from firmware.lines.sms_journal import SmsPartJournal
from firmware.telephony import outbound
from firmware.telephony.cdr import CallRecord, Disposition

log = logging.getLogger(__name__)


@dataclass
class _OutboundCall:
    """An extension's call out through a line: the SIP leg and the line leg."""
    uid: str
    extension: str
    sip_leg: int
    plan: outbound.OutboundPlan
    arrived: float
    line_leg: int | None = None
    line: str = ""
    tried: int = 0
    answered: float | None = None
    done: bool = False


class LineBank:
    """
    :param engine: the SipEngine (line legs, answer, bridge, hangup).
    :param records: the record store (call records, texts, line events).
    :param make_line: ``(config, listener) -> line driver`` for a line record.
    :param clock: wall-clock time for records.
    """

    def __init__(self, engine, records, make_line: Callable[[dict, "LineBank"], object],
                 alerter: Alerter | None = None, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.records = records
        self.make_line = make_line
        self.alerter = alerter
        self.clock = clock
        self.lines: dict[str, object] = {}
        self.configs: dict[str, dict] = {}
        self.outbound: list[outbound.OutboundRoute] = []
        self._leg_of_line: dict[str, int] = {}         # line name -> its current leg
        self._calls: dict[int, _OutboundCall] = {}      # sip leg or line leg -> outbound call
        self._uids = itertools.count(1)
        self._sms_refs: dict[int, int] = {}             # pending send -> sms row id
        self._last_tick = 0.0
        self.changed = False

    # -- configuration (owner thread) --------------------------------------------------
    def configure(self, config: LinesConfig) -> None:
        """Start new lines, stop removed ones, restart changed idle ones."""
        self.outbound = list(config.outbound)
        wanted = {name: rec for name, rec in config.lines.items() if rec.get("enabled", True)}
        for name in list(self.lines):
            if name not in wanted or (wanted[name] != self.configs[name] and name not in self._leg_of_line):
                self._stop_line(name)
        for name, rec in wanted.items():
            if name not in self.lines:
                line = self.make_line(rec, self)
                if hasattr(line, "keep_sms_parts_in"):    # it deletes texts from a SIM
                    line.keep_sms_parts_in(SmsPartJournal(self.records, name))
                self.lines[name] = line
                self.configs[name] = rec
                if line.kind != "sip":            # a trunk's audio is RTP, not a port
                    self.engine.attach_line(line)
                line.start()
                log.info("line %s (%s on %s) started", name, rec.get("kind"), rec.get("device"))
        self.changed = True

    def _stop_line(self, name: str) -> None:
        line = self.lines.pop(name)
        self.configs.pop(name, None)
        line.close()
        log.info("line %s stopped", name)

    def close(self) -> None:
        for name in list(self.lines):
            self._stop_line(name)

    def route_for(self, name: str) -> str:
        return self.configs[name]["route"]

    # -- the listener face (owner thread, via post) --------------------------------------
    def incoming(self, line, caller: str) -> None:
        if line.name in self._leg_of_line:
            log.warning("line %s: second call from %s while one is up: ignored", line.name, caller)
            return
        call_id = self.engine.line_incoming(line, caller or "unknown", self.route_for(line.name))
        if call_id is not None:
            self._leg_of_line[line.name] = call_id

    def answered(self, line) -> None:
        call_id = self._leg_of_line.get(line.name)
        if call_id is not None:
            self.engine.line_answered(call_id)

    def digit(self, line, digit: str) -> None:
        call_id = self._leg_of_line.get(line.name)
        if call_id is not None:
            self.engine.line_digit(call_id, digit)

    def ended(self, line, reason: str) -> None:
        call_id = self._leg_of_line.pop(line.name, None)
        if call_id is not None:
            self.engine.line_ended(call_id, reason)

    def trunk_state(self, name: str, state: str, detail: str) -> None:
        """Engine hook: a trunk registered, or lost its registration."""
        line = self.lines.get(name)
        if line is not None:
            line.registration(state, detail)

    def leg_gone(self, line_name: str, call_id: int) -> None:
        """Engine hook: a line's call ended (the box may have hung up first)."""
        if self._leg_of_line.get(line_name) == call_id:
            del self._leg_of_line[line_name]

    def sms(self, line, message) -> None:
        row = self.records.add_sms(self.clock(), line.name, "in", message.sender, message.text, "received",
                                   message.sent_at, parts=message.journal_rows)
        if row is None:
            log.info("line %s: text from %s stored already", line.name, message.sender)
            return
        log.info("line %s: text from %s (%d characters)", line.name, message.sender, len(message.text))
        self.changed = True

    def sms_sent(self, line, ref, reference, error: str) -> None:
        row = self._sms_refs.pop(ref, None) if isinstance(ref, int) else None
        if row is not None:
            self.records.set_sms_status(row, "sent" if not error else f"failed: {error}")
        if error:
            log.error("line %s: text not sent: %s", line.name, error)

    def state(self, line, state: str, detail: str) -> None:
        self.records.add_line_event(self.clock(), line.name, state, detail)
        self.changed = self.engine.changed = True
        if state != "up" and line.name in self._leg_of_line:
            self.ended(line, f"line {state}")
        if self.alerter is not None:
            self.alerter.line_state(line.name, state, detail, self._working_lines(exclude=line.name))

    def tick(self) -> None:
        now = self.clock()
        if self.alerter is not None and now - self._last_tick >= 1.0:
            self._last_tick = now
            self.alerter.tick(lambda name: self._working_lines(exclude=name))

    def _working_lines(self, exclude: str = "") -> list:
        return [line for name, line in self.lines.items() if name != exclude and line.state == "up"]

    # -- outbound: the engine's route hook ------------------------------------------------
    def route(self, dialed: str, caller: str):
        """Leg owner for an extension's call to an outside number, or None."""
        if not self.outbound or not caller.isdigit():
            return None
        return self if outbound.plan(self.outbound, caller, dialed) else None

    def leg_incoming(self, leg: int, caller: str, dialed: str, line: str = "sip") -> None:
        plan = outbound.plan(self.outbound, caller, dialed)
        uid = f"out-{int(self.clock())}-{next(self._uids)}"
        call = _OutboundCall(uid, caller, leg, plan, self.clock())
        self._calls[leg] = call
        log.info("extension %s calls %s (route %s)", caller, plan.number, plan.route)
        self.engine.ringing(leg)
        self._try_next_line(call)

    def _try_next_line(self, call: _OutboundCall) -> None:
        while call.tried < len(call.plan.lines):
            name = call.plan.lines[call.tried]
            call.tried += 1
            line = self.lines.get(name)
            if line is None or line.state != "up" or name in self._leg_of_line:
                continue
            call.line = name
            if line.kind == "sip":                # a trunk carries many calls at once
                try:
                    call.line_leg = self.engine.dial_trunk(name, call.plan.number, self, call.uid)
                except CapacityError as exc:
                    log.warning("trunk %s: %s", name, exc)
                    continue
            else:
                call.line_leg = self.engine.dial_line(line, call.plan.number, self, call.uid)
                self._leg_of_line[name] = call.line_leg
            self._calls[call.line_leg] = call
            return
        self._finish(call, Disposition.FAILED if not call.line else Disposition.BUSY, status=503)

    def leg_media_ready(self, leg: int) -> None:
        call = self._calls.get(leg)
        if call is None or call.done:
            return
        if leg == call.line_leg:            # the far end answered: answer the phone
            call.answered = self.clock()
            self.engine.answer(call.sip_leg)
        elif leg == call.sip_leg and call.line_leg is not None:
            self.engine.bridge(call.sip_leg, call.line_leg)

    def leg_digit(self, leg: int, digit: str) -> None:
        call = self._calls.get(leg)
        if call is not None and leg == call.sip_leg and call.line:
            line = self.lines.get(call.line)
            if line is not None:
                line.send_dtmf(digit)       # menus at the far end (banks, carriers)

    def leg_ended(self, leg: int, status: int) -> None:
        call = self._calls.get(leg)
        if call is None or call.done:
            return
        if leg == call.line_leg:
            self._leg_of_line.pop(call.line, None)
            self._calls.pop(leg, None)
            if call.answered is None and status in (486, 480, 503) and call.tried < len(call.plan.lines):
                call.line_leg = None
                self._try_next_line(call)  # busy or no answer on this line: the next one
                return
            disposition = (Disposition.ANSWERED if call.answered else
                           Disposition.BUSY if status in (486, 600) else Disposition.NO_ANSWER)
            self._finish(call, disposition, status=486 if disposition is Disposition.BUSY else 480)
        else:
            self._finish(call, Disposition.ANSWERED if call.answered else Disposition.HANGUP, status=0)

    def _finish(self, call: _OutboundCall, disposition: Disposition, status: int) -> None:
        call.done = True
        for leg in (call.sip_leg, call.line_leg):
            if leg is not None:
                self._calls.pop(leg, None)
                self.engine.hangup(leg, status if leg == call.sip_leg and not call.answered else 0)
        if call.line:
            self._leg_of_line.pop(call.line, None)
        now = self.clock()
        self.records.add_call(CallRecord(
            call.uid, call.arrived, call.extension, call.line or "-", route=f"outbound:{call.plan.route}",
            answered=call.answered, ended=now, agent=call.extension, disposition=disposition,
            dialed=call.plan.number))
        log.info("outbound call %s from %s to %s: %s", call.uid, call.extension, call.plan.number,
                 disposition.value)

    # -- commands (owner thread) --------------------------------------------------------------
    def place_call(self, line_name: str, number: str, owner, uid: str) -> int:
        """A call the box itself places through a line (a test call); ``owner`` drives it."""
        line = self.lines.get(line_name)
        if line is None:
            raise ControlError(f"no line {line_name!r}")
        if line.state != "up":
            raise ControlError(f"line {line_name} is {line.state}")
        if line.kind == "sip":
            return self.engine.dial_trunk(line_name, number, owner, uid)
        if line_name in self._leg_of_line:
            raise ControlError(f"line {line_name} is in a call")
        leg = self.engine.dial_line(line, number, owner, uid)
        self._leg_of_line[line_name] = leg
        return leg

    def send_sms(self, number: str, text: str, line_name: str | None = None) -> dict:
        if not outbound.DIALABLE.fullmatch(number) or not number.lstrip("+").isdigit():
            raise ControlError(f"not a phone number: {number!r}")
        if not text or len(text) > 1000:
            raise ControlError("a text must have 1 to 1000 characters")
        candidates = [self.lines[line_name]] if line_name in self.lines else self._working_lines()
        if line_name and line_name not in self.lines:
            raise ControlError(f"no line {line_name!r}")
        line = next((c for c in candidates if c.state == "up"), None)
        if line is None:
            raise ControlError("no line is up to send a text")
        row = self.records.add_sms(self.clock(), line.name, "out", number, text, "queued")
        self._sms_refs[row] = row
        line.send_sms(number, text, row)
        return {"id": row, "line": line.name}

    def status(self) -> list[dict]:
        out = []
        for name, line in self.lines.items():
            item = line.status()
            item["route"] = self.configs[name]["route"]
            item["label"] = self.configs[name].get("name") or name
            call_id = self._leg_of_line.get(name)
            item["call"] = call_id
            call = self.engine.calls.get(call_id) if call_id is not None else None
            # What the panel's line LED shows: up, ringing, in-call or down.
            item["panel_state"] = ("in-call" if call and call.answered else "ringing" if call
                                   else "up" if item["state"] == "up" else "down")
            out.append(item)
        return out
