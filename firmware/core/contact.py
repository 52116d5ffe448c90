"""The contact center on real calls: CallCenter decisions, carried out by the engine.

Owns the mapping between the call center's call ids (``uid``) and pjsua
call legs: one caller leg per uid and the agent legs ringing or talking for
it. It turns leg events (incoming, media ready, digit, ended) into
:class:`~firmware.telephony.callcenter.CallCenter` events and its actions
into engine primitives (answer, play, dial, bridge, hangup). It also answers
the agents' feature codes (*45 log in/out, *46 pause/unpause) and keeps
today's numbers per queue.

Threads: everything here runs on the core's owner thread (called from
engine callbacks, timers and the tick), so it needs no locks. It never
imports pjsua2: the engine is its only way to the calls.
"""
from __future__ import annotations

import itertools
import json
import logging
from collections import deque
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from firmware.config.callcenter import CallCenterConfig
from firmware.core.prompts import MAX_SPOKEN_MINUTES, MAX_SPOKEN_POSITION
from firmware.errors import CapacityError, ControlError
from firmware.fsutil import atomic_write_text
from firmware.records.recordings import Recordings
from firmware.records.voicemail import Voicemail
from firmware.records.store import RecordStore
from firmware.telephony import callcenter as cc
from firmware.telephony.agents import AgentBoard, AgentError, AgentState
from firmware.telephony.metrics import QueueStats
from firmware.telephony.queues import CallQueue, QueueEvent

log = logging.getLogger(__name__)

AGENT_LOGIN_CODE = "*45"   # FreePBX's queue toggle code
AGENT_PAUSE_CODE = "*46"
NIGHT_MODE_CODE = "*28"    # FreePBX's call flow (day/night) toggle
VOICEMAIL_CODE = "*97"     # FreePBX: my voicemail
FEATURE_CODES = (AGENT_LOGIN_CODE, AGENT_PAUSE_CODE, NIGHT_MODE_CODE, VOICEMAIL_CODE)
TICK_S = 0.2


def _reason(status: int) -> str:
    return {486: "busy", 600: "busy", 603: "declined", 480: "unavailable", 404: "unavailable",
            408: "noanswer", 487: "noanswer"}.get(status, f"failed-{status}")


@dataclass
class _Call:
    caller_leg: int
    agent_legs: dict[str, int] = field(default_factory=dict)   # extension -> leg
    connected: str = ""


class ContactCenter:
    """Leg owner for calls to routes and agent feature codes.

    :param engine: the SipEngine (primitives: answer, play, dial, bridge, hangup).
    :param prompt_path: prompt name -> WAV path in the box's language.
    :param records: where call records and queue events are written.
    """

    def __init__(self, engine, prompt_path: Callable[[str], Path], records: RecordStore,
                 recordings: Recordings, clock: Callable[[], float] = time.time,
                 set_override: Callable[[str, str | None], None] | None = None,
                 voicemail: Voicemail | None = None, agents_file: Path | None = None):
        self.set_override = set_override
        self.agents_file = agents_file
        self._saved_agents: dict | None = None
        self.voicemail = voicemail
        self.mailbox_pins: dict[str, str | None] = {}
        self._playlists: dict[int, deque] = {}          # leg -> one-shot prompts waiting their turn
        self._playing_once: set[int] = set()             # legs playing a one-shot prompt now
        self._messages: dict[str, tuple] = {}            # uid -> (part, caller, started, leg)
        self._listeners: dict[int, tuple] = {}           # leg -> (ListenSession, mailbox)
        self.engine = engine
        self.recordings = recordings
        self._recording_legs: dict[int, str] = {}              # leg -> uid, while its part is open
        self._recording_parts: dict[str, tuple[Path, Path]] = {}
        self.prompt_path = prompt_path
        self.records = records
        self.clock = clock
        self.board = AgentBoard()
        self.stats: dict[str, QueueStats] = {}
        self._stats_day = None
        self.routes: dict = {}
        self.time_conditions: dict = {}
        self.center = cc.CallCenter(menus={}, queues={}, board=self.board, extensions=set(),
                                    time_condition=self._choose_time_condition,
                                    on_record=self._on_record, on_queue_event=self._on_queue_event)
        self._calls: dict[str, _Call] = {}
        self._leg_role: dict[int, tuple[str, str]] = {}   # leg -> (uid, extension or "" for the caller)
        self._feature_legs: dict[int, str] = {}           # leg -> prompt to play
        self._uids = itertools.count(1)
        self._last_tick = 0.0
        self.changed = True

    # -- configuration -------------------------------------------------------
    def configure(self, config: CallCenterConfig, extensions: set[str], agent_names: dict[str, str]) -> None:
        """Apply new routes/menus/queues; callers in progress keep their place."""
        self.routes = dict(config.routes)
        self.time_conditions = dict(config.time_conditions)
        self.mailbox_pins = dict(config.mailboxes)
        self.center.mailboxes = set(config.mailboxes) if self.voicemail else set()
        self.center.menus = dict(config.menus)
        self.center.extensions = set(extensions)
        queues = self.center.queues
        for qid, qcfg in config.queues.items():
            if qid in queues:
                queues[qid].config = qcfg
            else:
                queues[qid] = CallQueue(qcfg, self.board, last_agent=self._last_agent)
            self.stats.setdefault(qid, QueueStats(qid, qcfg.sl_threshold_s)).sl_threshold_s = qcfg.sl_threshold_s
        for qid in [q for q in queues if q not in config.queues and not queues[q].entries]:
            del queues[qid]
        for ext, name in agent_names.items():
            if ext in self.board.agents:
                self.board.agents[ext].name = name
        self._rebuild_stats_if_new_day()

    def _choose_time_condition(self, condition_id: str, now: datetime):
        target, reason = self.time_conditions[condition_id].choose(now)
        log.info("time condition %s: %s -> %s", condition_id, reason, target)
        return target

    def _last_agent(self, caller: str, days: int) -> str | None:
        return self.records.last_agent(caller, self.clock() - days * 86400)

    # -- engine's route hook -------------------------------------------------
    def route(self, dialed: str, caller: str):
        if dialed in self.routes or dialed in FEATURE_CODES:
            return self
        return None

    # -- leg owner callbacks (engine) ----------------------------------------
    def leg_incoming(self, leg: int, caller: str, dialed: str, line: str = "sip") -> None:
        if dialed in (AGENT_LOGIN_CODE, AGENT_PAUSE_CODE):
            self._feature_legs[leg] = self._agent_feature(caller, dialed)
            self.engine.answer(leg)
            return
        if dialed == NIGHT_MODE_CODE:
            self._feature_legs[leg] = self._toggle_night_mode(caller)
            self.engine.answer(leg)
            return
        if dialed == VOICEMAIL_CODE:
            self._start_listening(leg, caller)
            return
        uid = f"{int(self.clock())}-{next(self._uids)}"
        self._calls[uid] = _Call(leg)
        self._leg_role[leg] = (uid, "")
        self._run(self.center.incoming(uid, caller, line, self.routes[dialed], self.clock()))

    def leg_media_ready(self, leg: int) -> None:
        if leg in self._listeners:
            self._listen_run(leg, self._listeners[leg][0].start())
            return
        if leg in self._feature_legs:
            prompt = self._feature_legs[leg]
            self._play(leg, self.prompt_path(prompt), report=lambda: self.engine.hangup(leg))
            return
        role = self._leg_role.get(leg)
        if role is None:
            return
        uid, ext = role
        now = self.clock()
        self._run(self.center.answered(uid, now) if not ext else self.center.agent_answered(uid, ext, now))

    def leg_digit(self, leg: int, digit: str) -> None:
        if leg in self._listeners:
            self._listen_run(leg, self._listeners[leg][0].digit(digit))
            return
        role = self._leg_role.get(leg)
        if role and not role[1]:
            self._run(self.center.digit(role[0], digit, self.clock()))
        elif role:
            self._run(self.center.agent_digit(role[0], role[1], digit, self.clock()))

    def leg_ended(self, leg: int, status: int) -> None:
        self._feature_legs.pop(leg, None)
        self._listeners.pop(leg, None)
        self._playlists.pop(leg, None)
        self._playing_once.discard(leg)
        self._recording_leg_closed(leg)
        role = self._leg_role.pop(leg, None)
        if role is None:
            return
        uid, ext = role
        call = self._calls.get(uid)
        now = self.clock()
        if not ext:  # the caller hung up (or we hung up on them)
            if call is not None:
                for agent_leg in call.agent_legs.values():
                    self._leg_role.pop(agent_leg, None)
                    self.engine.hangup(agent_leg)
                self._calls.pop(uid, None)
            self._run(self.center.caller_hung_up(uid, now))
            return
        if call is None or call.agent_legs.get(ext) != leg:
            return
        del call.agent_legs[ext]
        if call.connected == ext:
            self._run(self.center.agent_hung_up(uid, ext, now))
        else:
            self._run(self.center.agent_failed(uid, ext, _reason(status), now))

    def tick(self) -> None:
        now = self.clock()
        if now - self._last_tick < TICK_S:
            return
        self._last_tick = now
        self._rebuild_stats_if_new_day()
        self._run(self.center.tick(now))
        self._save_agents()

    # -- agents survive a restart (Asterisk keeps dynamic members in astdb) -----
    def _agent_logins(self) -> dict:
        return {a.extension: {"paused": a.pause_reason if a.state is AgentState.PAUSED or a.pause_reason else ""}
                for a in self.board.agents.values() if a.state is not AgentState.LOGGED_OUT}

    def _save_agents(self) -> None:
        if self.agents_file is None:
            return
        current = self._agent_logins()
        if current != self._saved_agents:
            atomic_write_text(self.agents_file, json.dumps(current, sort_keys=True))
            self._saved_agents = current

    def restore_agents(self) -> None:
        """Log agents back in (and paused) as they were before a restart."""
        if self.agents_file is None or not self.agents_file.exists():
            return
        try:
            saved = json.loads(self.agents_file.read_text())
        except ValueError:
            log.error("%s is unreadable: agents start logged out", self.agents_file)
            return
        now = self.clock()
        for extension, state in saved.items():
            if extension not in self.center.extensions:
                continue
            self.board.login(extension, now)
            if state.get("paused"):
                self.board.pause(extension, now, state["paused"])
        self._saved_agents = self._agent_logins()
        log.info("restored %d agent logins", len(self._saved_agents))

    # -- carrying out actions ------------------------------------------------
    def _run(self, actions: list) -> None:
        if actions:
            self.changed = True  # the front panel redraws
        for action in actions:
            try:
                self._do(action)
            except Exception:
                log.exception("call center action %s failed", action)

    def _do(self, action) -> None:
        if isinstance(action, cc.StopMessage):
            self._stop_message(action.uid)
            return
        call = self._calls.get(action.uid)
        if call is None:
            return
        if isinstance(action, cc.Answer):
            self.engine.answer(call.caller_leg)
        elif isinstance(action, cc.Play):
            uid = action.uid
            self._play(call.caller_leg, self.prompt_path(action.prompt), loop=action.loop,
                       report=lambda: self._run(self.center.prompt_done(uid, self.clock())))
        elif isinstance(action, cc.StopPlay):
            self._stop(call.caller_leg)
        elif isinstance(action, cc.StartMessage):
            self._start_message(action, call)
        elif isinstance(action, cc.Ring):
            self._ring(action, call)
        elif isinstance(action, cc.StopRinging):
            leg = call.agent_legs.pop(action.extension, None)
            if leg is not None:
                self._leg_role.pop(leg, None)
                self.engine.hangup(leg)
        elif isinstance(action, cc.Bridge):
            call.connected = action.extension
            leg = call.agent_legs.get(action.extension)
            if leg is None or not self.engine.bridge(call.caller_leg, leg):
                log.error("cannot bridge %s to agent %s", action.uid, action.extension)
            else:
                log.info("call %s: talking to agent %s", action.uid, action.extension)
        elif isinstance(action, cc.Hangup):
            self.engine.hangup(call.caller_leg)
        elif isinstance(action, cc.StartRecording):
            self._start_recording(action.uid, call, action.extension)
        elif isinstance(action, cc.Announce):
            self._announce(action, call)

    def _announce(self, action: cc.Announce, call: _Call) -> None:
        """Tell a waiting caller their place and expected wait, then back to the music."""
        prompts = [f"position-{action.position}" if action.position <= MAX_SPOKEN_POSITION else "please-hold"]
        if action.estimated_wait_s is not None:
            # Round up to whole minutes, as app_queue does ("about N minutes").
            minutes = max(1, min(MAX_SPOKEN_MINUTES, int(-(-action.estimated_wait_s * action.position // 60))))
            prompts.append(f"wait-minutes-{minutes}")
        uid, leg = action.uid, call.caller_leg

        def resume():
            live = self.center.calls.get(uid)
            if live is not None and live.stage is cc.Stage.QUEUE and leg not in self._playing_once:
                self._play(leg, self.prompt_path(cc.HOLD_MUSIC), loop=True)
        self._stop(leg)
        for index, prompt in enumerate(prompts):
            last = index == len(prompts) - 1
            self._play(leg, self.prompt_path(prompt), report=resume if last else None)

    def _ring(self, action: cc.Ring, call: _Call) -> None:
        uid, ext = action.uid, action.extension
        try:
            leg = self.engine.dial(ext, self, uid)
        except CapacityError as exc:
            log.warning("cannot offer %s to %s: %s", uid, ext, exc)
            # Report the failure after this round of actions, not inside it.
            self.engine.call_later(0.0, lambda: self._run(self.center.agent_failed(uid, ext, "no-slot", self.clock())))
            return
        call.agent_legs[ext] = leg
        self._leg_role[leg] = (uid, ext)

        def give_up():
            # Safety net for direct calls; queue offers time out in the ACD first.
            if self._leg_role.get(leg) == (uid, ext) and self._calls.get(uid) and \
                    self._calls[uid].connected != ext:
                self.engine.hangup(leg)
        self.engine.call_later(action.timeout_s + 1.0, give_up)

    # -- prompts, one after another --------------------------------------------
    def _play(self, leg: int, path: Path, *, loop: bool = False, report: Callable[[], None] | None = None) -> None:
        """Loops play at once; one-shot prompts queue behind the one playing,
        and each reports when it has played to the end (the IVR counts them)."""
        if loop:
            self._stop(leg)
            self.engine.play(leg, path, loop=True)
            return
        if leg in self._playing_once:
            self._playlists.setdefault(leg, deque()).append((path, report))
            return
        self._start_once(leg, path, report)

    def _start_once(self, leg: int, path: Path, report) -> None:
        self._playing_once.add(leg)

        def done():
            self._playing_once.discard(leg)
            if report is not None:
                report()
            queue = self._playlists.get(leg)
            if queue and leg not in self._playing_once:
                self._start_once(leg, *queue.popleft())
        self.engine.play(leg, path, on_done=done)

    def _stop(self, leg: int) -> None:
        self._playlists.pop(leg, None)
        self._playing_once.discard(leg)
        self.engine.stop_play(leg)

    # -- voicemail -------------------------------------------------------------
    def _start_message(self, action: cc.StartMessage, call: _Call) -> None:
        record = self.center.calls[action.uid].record
        now = self.clock()
        part = self.voicemail.new_part(action.mailbox, record.caller, now)
        if not self.engine.record(call.caller_leg, part):
            log.error("cannot record voicemail for %s", action.mailbox)
        self._messages[action.uid] = (part, record.caller, now, call.caller_leg)
        self._play(call.caller_leg, self.prompt_path("beep"))

    def _stop_message(self, uid: str) -> None:
        entry = self._messages.pop(uid, None)
        if entry is None:
            return
        part, caller, started, leg = entry
        self.engine.stop_record(leg)
        self.voicemail.finish(part, caller, started)

    def _start_listening(self, leg: int, extension: str) -> None:
        from firmware.records.voicemail import check_pin
        from firmware.telephony.voicemail import ListenSession
        if self.voicemail is None or extension not in self.mailbox_pins:
            self._feature_legs[leg] = "not-available"
            self.engine.answer(leg)
            return
        stored = self.mailbox_pins.get(extension)
        session = ListenSession([m.id for m in self.voicemail.messages(extension)],
                                check_pin=lambda pin: check_pin(stored, pin))
        self._listeners[leg] = (session, extension)
        self.engine.answer(leg)

    def _listen_run(self, leg: int, actions: list) -> None:
        from firmware.telephony import voicemail as vm
        entry = self._listeners.get(leg)
        if entry is None:
            return
        session, mailbox = entry
        report = lambda: self._listen_run(leg, session.prompt_done())  # noqa: E731
        for action in actions:
            if isinstance(action, vm.PlayPrompt):
                self._play(leg, self.prompt_path(action.name), report=report)
            elif isinstance(action, vm.PlayMessage):
                message = next((m for m in self.voicemail.messages(mailbox) if m.id == action.message_id), None)
                if message is not None:
                    self._play(leg, message.path, report=report)
            elif isinstance(action, vm.StopPlayback):
                self._stop(leg)
            elif isinstance(action, vm.DeleteMessage):
                self.voicemail.delete(mailbox, action.message_id)
            elif isinstance(action, vm.Finish):
                log.info("voicemail %s: %s", mailbox, action.reason)
                self.engine.call_later(0.5, lambda: self.engine.hangup(leg))

    # -- recording -----------------------------------------------------------
    def _start_recording(self, uid: str, call: _Call, extension: str) -> None:
        agent_leg = call.agent_legs.get(extension)
        record = self.center.calls[uid].record
        caller_part, agent_part, name = self.recordings.parts_for(uid, record.arrived)
        ok = self.engine.record(call.caller_leg, caller_part)
        ok = agent_leg is not None and self.engine.record(agent_leg, agent_part) and ok
        if not ok:
            log.error("recording of %s could not start", uid)
        for leg in (call.caller_leg, agent_leg):
            if leg is not None:
                self._recording_legs[leg] = uid
        self._recording_parts[uid] = (caller_part, agent_part)
        self.center.set_recording(uid, name)
        log.info("recording %s to %s", uid, name)

    def _recording_leg_closed(self, leg: int) -> None:
        uid = self._recording_legs.pop(leg, None)
        if uid is None or uid in self._recording_legs.values():
            return
        parts = self._recording_parts.pop(uid, None)
        if parts is not None:
            self.recordings.finish(*parts)

    # -- day/night -------------------------------------------------------------
    def _toggle_night_mode(self, extension: str) -> str:
        """*28: force every time condition closed, or back to its schedule."""
        if not self.time_conditions or self.set_override is None:
            return "not-available"
        night = any(t.override and t.override.mode == "closed" for t in self.time_conditions.values())
        mode = None if night else "closed"
        for condition_id in list(self.time_conditions):
            self.set_override(condition_id, mode)   # reloads the config, and with it our conditions
        log.info("extension %s set night mode %s", extension, "off" if night else "on")
        return "night-mode-off" if night else "night-mode-on"

    # -- agents --------------------------------------------------------------
    def _agent_feature(self, extension: str, code: str) -> str:
        now = self.clock()
        self.board.ensure(extension)
        agent = self.board.get(extension)
        try:
            if code == AGENT_LOGIN_CODE:
                if agent.state is AgentState.LOGGED_OUT:
                    self.board.login(extension, now)
                    return "agent-logged-in"
                self.board.logout(extension, now)
                return "agent-logged-out"
            if agent.state is AgentState.PAUSED:
                self.board.unpause(extension, now)
                return "agent-unpaused"
            self.board.pause(extension, now)
            return "agent-paused"
        except AgentError as exc:
            log.info("agent %s: %s", extension, exc)
            return "not-available"
        finally:
            self.changed = True
            self._log_agent(extension, now)

    def agent_command(self, action: str, extension: str, reason: str = "break") -> dict:
        """Control API: agent-login, agent-logout, agent-pause, agent-unpause."""
        if extension not in self.center.extensions:
            raise ControlError(f"extension {extension!r} does not exist")
        now = self.clock()
        try:
            if action == "login":
                agent = self.board.login(extension, now)
            elif action == "logout":
                agent = self.board.logout(extension, now)
            elif action == "pause":
                agent = self.board.pause(extension, now, reason)
            elif action == "unpause":
                agent = self.board.unpause(extension, now)
            else:
                raise ControlError(f"unknown agent action {action!r}")
        except AgentError as exc:
            raise ControlError(str(exc)) from None
        self._log_agent(extension, now)
        self.changed = True
        self._run(self.center.tick(now))  # a freed agent may take a waiting caller at once
        return {"extension": extension, "state": agent.state.value}

    def _log_agent(self, extension: str, now: float) -> None:
        state = self.board.get(extension).state.value
        self.records.log_queue_event(QueueEvent(now, "NONE", "", extension, "AGENTSTATE", {"state": state}))

    # -- records and numbers -------------------------------------------------
    def _on_record(self, record) -> None:
        self.records.add_call(record)
        log.info("call %s from %s: %s (queue %s, agent %s)", record.uid, record.caller,
                 record.disposition.value, record.queue or "-", record.agent or "-")

    def _on_queue_event(self, event: QueueEvent) -> None:
        self.records.log_queue_event(event)
        stats = self.stats.get(event.queue)
        if stats is not None:
            stats.record(event)

    def _rebuild_stats_if_new_day(self) -> None:
        now = self.clock()
        today = datetime.fromtimestamp(now).date()
        if today == self._stats_day:
            return
        self._stats_day = today
        midnight = datetime.combine(today, datetime.min.time()).timestamp()
        for qid, old in list(self.stats.items()):
            fresh = QueueStats(qid, old.sl_threshold_s)
            for event in self.records.queue_events(qid, midnight):
                fresh.record(event)
            self.stats[qid] = fresh

    def snapshot(self) -> dict:
        now = self.clock()
        snap = self.center.snapshot(now)
        snap["today"] = [s.as_dict() for s in self.stats.values()]
        return snap
