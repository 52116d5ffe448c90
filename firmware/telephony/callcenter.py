"""The call center's brain: a caller's path from route to menu to queue to agent.

:class:`CallCenter` holds the menus, queues and agents of the box and one
:class:`InboundCall` per caller in it. The adapter (firmware/core) feeds it
what happened to real call legs — answered, prompt finished, digit, agent
answered or not, hang-ups, and a periodic tick — and carries out the media
actions it returns (:class:`Play`, :class:`Ring`, :class:`Bridge`, ...).
Each finished call yields its :class:`CallRecord`; every queue event goes
to the queue log sink.

Times are epoch seconds passed in by the caller; nothing here reads a clock
or touches pjsua2. A caller sent to voicemail hears the greeting, then
speaks until they hang up, press # or reach two minutes.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from firmware.telephony import ivr
from firmware.telephony.agents import AgentBoard
from firmware.telephony.cdr import CallRecord, Disposition, Offer as OfferRecord
from firmware.telephony.queues import (Announce as QueueAnnounce, CallQueue, Cancel, Connect, Leave, Offer,
                                       QueueEvent, QueueResult)
from firmware.telephony.targets import Target, TargetKind

DIRECT_RING_S = 30.0
HOLD_MUSIC = "hold-music"
UNAVAILABLE = "not-available"
MAX_HOPS = 16
MAX_MESSAGE_S = 120.0
RECORD_KEYS = "*1"  # Asterisk's automixmon feature code  # a menu loop misconfigured onto itself must not spin forever


# -- actions for the adapter -------------------------------------------------
@dataclass(frozen=True)
class Answer:
    uid: str


@dataclass(frozen=True)
class Play:
    uid: str
    prompt: str
    loop: bool = False


@dataclass(frozen=True)
class StopPlay:
    uid: str


@dataclass(frozen=True)
class Ring:
    uid: str
    extension: str
    timeout_s: float


@dataclass(frozen=True)
class StopRinging:
    uid: str
    extension: str


@dataclass(frozen=True)
class Bridge:
    uid: str
    extension: str


@dataclass(frozen=True)
class StartRecording:
    """Record both sides of the bridged call (the adapter names the file)."""

    uid: str
    extension: str


@dataclass(frozen=True)
class StartMessage:
    """Start recording the caller's voicemail message for ``mailbox``."""

    uid: str
    mailbox: str


@dataclass(frozen=True)
class StopMessage:
    uid: str


@dataclass(frozen=True)
class Announce:
    uid: str
    position: int
    estimated_wait_s: float | None


@dataclass(frozen=True)
class Hangup:
    uid: str
    reason: str


class Stage(enum.Enum):
    NEW = "new"
    MENU = "menu"
    QUEUE = "queue"
    RINGING = "ringing"      # a direct call to one extension
    CONNECTED = "connected"
    MESSAGE = "message"      # playing a last prompt, then hang up
    VM_GREETING = "vm-greeting"    # "leave a message after the tone"
    VM_RECORDING = "vm-recording"  # the caller is speaking
    ENDED = "ended"


@dataclass
class InboundCall:
    record: CallRecord
    target: Target
    stage: Stage = Stage.NEW
    menu: ivr.MenuSession | None = None
    queue: str = ""
    ringing: set[str] = field(default_factory=set)
    agent: str = ""
    last_menu_choices: int = 0
    recording: bool = False
    agent_keys: str = ""
    mailbox: str = ""
    message_started: float = 0.0


TimeConditionLookup = Callable[[str, datetime], Target]


class CallCenter:
    def __init__(self, *, menus: dict[str, ivr.Menu], queues: dict[str, CallQueue], board: AgentBoard,
                 extensions: set[str], time_condition: TimeConditionLookup | None = None,
                 on_record: Callable[[CallRecord], None] = lambda r: None,
                 on_queue_event: Callable[[QueueEvent], None] = lambda e: None):
        self.menus = menus
        self.queues = queues
        self.board = board
        self.extensions = extensions
        self.mailboxes: set[str] = set()
        self.time_condition = time_condition
        self.on_record = on_record
        self.on_queue_event = on_queue_event
        self.calls: dict[str, InboundCall] = {}

    # -- events from the adapter -------------------------------------------
    def incoming(self, uid: str, caller: str, line: str, target: Target, now: float) -> list:
        self.calls[uid] = InboundCall(CallRecord(uid, now, caller, line, route=str(target)), target)
        return [Answer(uid)]

    def answered(self, uid: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None or call.stage is not Stage.NEW:
            return []
        return self._go(call, call.target, now)

    def prompt_done(self, uid: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None:
            return []
        if call.stage is Stage.MENU:
            return self._menu(call, call.menu.handle(ivr.PromptFinished(rtime=now)), now)
        if call.stage is Stage.MESSAGE:
            return self._end(call, now, "message played") + [Hangup(uid, "message played")]
        if call.stage is Stage.VM_GREETING:
            call.stage = Stage.VM_RECORDING
            call.message_started = now
            return [StartMessage(uid, call.mailbox)]
        return []

    def digit(self, uid: str, digit: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None:
            return []
        if call.stage is Stage.MENU:
            return self._menu(call, call.menu.handle(ivr.DigitPressed(digit, rtime=now)), now)
        if call.stage is Stage.QUEUE:
            return self._acd(self.queues[call.queue].exit_key(uid, digit, now), now)
        if call.stage is Stage.VM_RECORDING and digit == "#":
            return self._end_message(call)
        return []

    def _end_message(self, call: InboundCall) -> list:
        call.stage = Stage.MESSAGE
        return [StopMessage(call.record.uid), Play(call.record.uid, "vm-saved")]

    def agent_digit(self, uid: str, extension: str, digit: str, now: float) -> list:
        """A key pressed by the connected agent: *1 starts an on-demand recording."""
        call = self.calls.get(uid)
        if call is None or call.stage is not Stage.CONNECTED or call.agent != extension:
            return []
        call.agent_keys = (call.agent_keys + digit)[-2:]
        queue = self.queues.get(call.queue)
        if call.agent_keys == RECORD_KEYS and queue and queue.config.recording == "on-demand" and not call.recording:
            call.recording = True
            return [StartRecording(uid, extension)]
        return []

    def set_recording(self, uid: str, name: str) -> None:
        call = self.calls.get(uid)
        if call is not None:
            call.record.recording = name

    def agent_answered(self, uid: str, extension: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None:
            return [StopRinging(uid, extension)]
        if call.stage is Stage.QUEUE:
            return self._acd(self.queues[call.queue].offer_answered(uid, extension, now), now)
        if call.stage is Stage.RINGING and extension in call.ringing:
            call.ringing.discard(extension)
            self._offer_outcome(call, extension, "answered")
            return self._connect(call, extension, now)
        return [StopRinging(uid, extension)]

    def agent_failed(self, uid: str, extension: str, reason: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None:
            return []
        self._offer_outcome(call, extension, reason)
        if call.stage is Stage.QUEUE:
            return self._acd(self.queues[call.queue].offer_failed(uid, extension, now, reason), now)
        if call.stage is Stage.RINGING and extension in call.ringing:
            call.ringing.discard(extension)
            return self._unavailable(call, now)
        return []

    def caller_hung_up(self, uid: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None:
            return []
        actions: list = []
        rec = call.record
        if call.stage is Stage.MENU:
            rec.disposition = Disposition.ABANDONED_IVR
        elif call.stage is Stage.QUEUE:
            rec.disposition = Disposition.ABANDONED_QUEUE
            actions = self._acd(self.queues[call.queue].caller_left(uid, now), now)
        elif call.stage is Stage.RINGING:
            actions = [StopRinging(uid, ext) for ext in call.ringing]
            rec.disposition = Disposition.HANGUP
        elif call.stage is Stage.CONNECTED:
            actions = self._complete(call, now, "caller")
        elif call.stage is Stage.VM_RECORDING:
            actions = [StopMessage(uid)]
        return actions + self._end(call, now, "caller hung up")

    def agent_hung_up(self, uid: str, extension: str, now: float) -> list:
        call = self.calls.get(uid)
        if call is None or call.stage is not Stage.CONNECTED or call.agent != extension:
            return []
        actions = self._complete(call, now, "agent")
        return actions + self._end(call, now, "agent hung up") + [Hangup(uid, "agent hung up")]

    def tick(self, now: float) -> list:
        actions: list = []
        for queue in self.queues.values():
            actions += self._acd(queue.tick(now), now)
        for call in list(self.calls.values()):
            if call.stage is Stage.MENU:
                actions += self._menu(call, call.menu.handle(ivr.Tick(rtime=now)), now)
            elif call.stage is Stage.VM_RECORDING and now - call.message_started >= MAX_MESSAGE_S:
                actions += self._end_message(call)
        return actions

    # -- internals ------------------------------------------------------------
    def _go(self, call: InboundCall, target: Target, now: float, hops: int = 0) -> list:
        uid = call.record.uid
        if hops > MAX_HOPS:
            return self._unavailable(call, now)
        kind = target.kind
        if kind is TargetKind.TIME_CONDITION and self.time_condition is not None:
            when = datetime.fromtimestamp(now, timezone.utc)
            return self._go(call, self.time_condition(target.ref, when), now, hops + 1)
        if kind is TargetKind.MENU and target.ref in self.menus:
            call.stage = Stage.MENU
            call.menu = ivr.MenuSession(self.menus[target.ref])
            call.last_menu_choices = 0
            return self._menu(call, call.menu.handle(ivr.MenuStarted(rtime=now)), now, hops)
        if kind is TargetKind.QUEUE and target.ref in self.queues:
            call.stage = Stage.QUEUE
            call.queue = target.ref
            call.record.queue = target.ref
            call.record.queue_entered = now
            return [Play(uid, HOLD_MUSIC, loop=True)] + self._acd(self.queues[target.ref].join(uid, call.record.caller, now), now)
        if kind is TargetKind.EXTENSION and target.ref in self.extensions:
            call.stage = Stage.RINGING
            call.ringing = {target.ref}
            call.record.offers.append(OfferRecord(target.ref, now, "ringing"))
            return [Play(uid, HOLD_MUSIC, loop=True), Ring(uid, target.ref, DIRECT_RING_S)]
        if kind is TargetKind.ANNOUNCEMENT:
            call.stage = Stage.MESSAGE
            return [Play(uid, target.ref)]
        if kind is TargetKind.VOICEMAIL:
            call.record.disposition = Disposition.VOICEMAIL
            if target.ref not in self.mailboxes:
                return self._unavailable(call, now, keep_disposition=True)
            call.stage = Stage.VM_GREETING
            call.mailbox = target.ref
            return [StopPlay(uid), Play(uid, "vm-leave-message")]
        if kind is TargetKind.HANGUP:
            return self._end(call, now, "hang up") + [Hangup(uid, "route ends")]
        return self._unavailable(call, now)

    def _menu(self, call: InboundCall, actions: list, now: float, hops: int = 0) -> list:
        uid = call.record.uid
        out: list = []
        choices = call.menu.choices
        call.record.ivr_choices += choices[call.last_menu_choices:]
        call.last_menu_choices = len(choices)
        for action in actions:
            if isinstance(action, ivr.PlayPrompt):
                out.append(Play(uid, action.name))
            elif isinstance(action, ivr.StopPrompt):
                out.append(StopPlay(uid))
            elif isinstance(action, ivr.GoTo):
                out += self._go(call, action.target, now, hops + 1)
        return out

    def _acd(self, actions: list, now: float) -> list:
        out: list = []
        for action in actions:
            call = self.calls.get(action.call_id)
            if isinstance(action, Offer):
                if call:
                    call.record.offers.append(OfferRecord(action.extension, now, "ringing"))
                out.append(Ring(action.call_id, action.extension, action.timeout_s))
            elif isinstance(action, Cancel):
                if call:
                    outcome = "noanswer" if action.reason == "timeout" else "withdrawn"
                    self._offer_outcome(call, action.extension, outcome)
                out.append(StopRinging(action.call_id, action.extension))
            elif isinstance(action, Connect) and call:
                self._offer_outcome(call, action.extension, "answered")
                out += self._connect(call, action.extension, now)
            elif isinstance(action, Leave) and call:
                call.record.disposition = {
                    QueueResult.TIMEOUT: Disposition.TIMEOUT,
                    QueueResult.EXITKEY: Disposition.EXIT_KEY,
                }.get(action.result, Disposition.NO_AGENTS)
                call.stage = Stage.NEW
                out += [StopPlay(call.record.uid)] + self._go(call, action.target, now, 1)
            elif isinstance(action, QueueAnnounce):
                out.append(Announce(action.call_id, action.position, action.estimated_wait_s))
        self._flush_queue_events()
        return out

    def _connect(self, call: InboundCall, extension: str, now: float) -> list:
        call.stage = Stage.CONNECTED
        call.agent = extension
        call.record.agent = extension
        call.record.answered = now
        call.record.disposition = Disposition.ANSWERED
        actions = [StopPlay(call.record.uid), Bridge(call.record.uid, extension)]
        queue = self.queues.get(call.queue)
        if queue is not None and queue.config.recording == "always":
            call.recording = True
            actions.append(StartRecording(call.record.uid, extension))
        return actions

    def _complete(self, call: InboundCall, now: float, by: str) -> list:
        if call.queue:
            self.queues[call.queue].call_ended(call.record.uid, now, hung_up_by=by)
            call.record.wrapup_s = self.queues[call.queue].config.wrapup_s
            self._flush_queue_events()
        return []

    def _offer_outcome(self, call: InboundCall, extension: str, outcome: str) -> None:
        for offer in reversed(call.record.offers):
            if offer.agent == extension and offer.outcome == "ringing":
                offer.outcome = outcome
                return

    def _unavailable(self, call: InboundCall, now: float, keep_disposition: bool = False) -> list:
        if not keep_disposition and call.record.disposition is Disposition.HANGUP:
            call.record.disposition = Disposition.REFUSED
        call.stage = Stage.MESSAGE
        return [StopPlay(call.record.uid), Play(call.record.uid, UNAVAILABLE)]

    def _end(self, call: InboundCall, now: float, why: str) -> list:
        if call.stage is Stage.ENDED:
            return []
        call.stage = Stage.ENDED
        call.record.ended = now
        self.calls.pop(call.record.uid, None)
        self.on_record(call.record)
        return []

    def _flush_queue_events(self) -> None:
        for queue in self.queues.values():
            for event in queue.drain_events():
                self.on_queue_event(event)

    def snapshot(self, now: float) -> dict:
        return {
            "queues": [q.snapshot(now) for q in self.queues.values()],
            "agents": self.board.snapshot(now),
            "callers": [{"uid": c.record.uid, "caller": c.record.caller, "stage": c.stage.value,
                         "queue": c.queue, "agent": c.agent} for c in self.calls.values()],
        }
