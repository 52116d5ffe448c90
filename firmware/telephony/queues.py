"""Call queues: who waits, which agent is offered the next caller, and when.

In Asterisk app_queue's vocabulary: a :class:`CallQueue` holds
:class:`QueueEntry` callers in arrival order and offers the head caller to
members (agents) by a :class:`Strategy`. It returns what should happen as
action values (:class:`Offer`, :class:`Cancel`, :class:`Connect`,
:class:`Leave`, :class:`Announce`) and writes queue_log-style
:class:`QueueEvent` records; the adapter carries the actions out with real
calls. Every method takes the event time; nothing here reads a clock or
touches pjsua2.

Strategies (queues.conf names): ``rrmemory`` continues after the member
offered last; ``leastrecent`` offers the agent idle longest, idle counted
from the end of wrap-up; ``fewestcalls`` the one with fewest answered calls
in this queue; ``ringall`` rings every available member at once. A caller
who called within ``sticky_days`` is offered first to the agent who served
them last, if that agent is available (``last_agent`` lookup).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

from firmware.telephony.agents import AgentBoard, AgentState
from firmware.telephony.targets import Target, TargetKind


class Strategy(enum.Enum):
    RRMEMORY = "rrmemory"
    LEASTRECENT = "leastrecent"
    FEWESTCALLS = "fewestcalls"
    RINGALL = "ringall"


class QueueResult(enum.Enum):
    """Why a caller left without an agent (Asterisk's QUEUESTATUS)."""

    TIMEOUT = "timeout"
    JOINEMPTY = "joinempty"
    LEAVEEMPTY = "leaveempty"
    FULL = "full"
    EXITKEY = "exitkey"


@dataclass(frozen=True)
class QueueConfig:
    id: str
    members: tuple[str, ...]
    strategy: Strategy = Strategy.RRMEMORY
    ring_timeout_s: float = 15.0
    retry_s: float = 5.0
    wrapup_s: float = 10.0
    autopause_after: int = 3          # 0: never auto-pause
    max_wait_s: float = 300.0
    max_callers: int = 10
    join_empty: bool = False          # may a caller join when nobody is logged in?
    leave_when_empty: bool = True     # do waiting callers leave when the last agent goes?
    failover: Target = Target(TargetKind.HANGUP)
    sticky_days: int = 0              # 0: no sticky agent
    sl_threshold_s: float = 15.0
    announce_every_s: float = 30.0    # 0: never announce position
    exit_key: str = ""
    exit_target: Target | None = None
    recording: str = "never"          # always, never, on-demand (agent presses *1)


# -- actions for the adapter -------------------------------------------------
@dataclass(frozen=True)
class Offer:
    call_id: str
    extension: str
    timeout_s: float


@dataclass(frozen=True)
class Cancel:
    call_id: str
    extension: str
    reason: str  # "timeout", "answered-elsewhere", "caller-left"


@dataclass(frozen=True)
class Connect:
    call_id: str
    extension: str
    wait_s: float


@dataclass(frozen=True)
class Leave:
    call_id: str
    result: QueueResult
    target: Target
    wait_s: float


@dataclass(frozen=True)
class Announce:
    call_id: str
    position: int
    estimated_wait_s: float | None


@dataclass(frozen=True)
class QueueEvent:
    """One queue_log line: ENTERQUEUE, RINGNOANSWER, CONNECT, ABANDON, ..."""

    time: float
    queue: str
    call_id: str
    agent: str
    event: str
    data: dict = field(default_factory=dict)


@dataclass
class QueueEntry:
    call_id: str
    caller: str
    joined_at: float
    retry_at: float = 0.0
    ringing: dict[str, float] = field(default_factory=dict)  # extension -> offer deadline
    missed_by: set[str] = field(default_factory=set)
    sticky: str | None = None
    last_announce: float = 0.0


LastAgentLookup = Callable[[str, int], "str | None"]


class CallQueue:
    """One queue. ``board`` is shared by all queues of the box."""

    def __init__(self, config: QueueConfig, board: AgentBoard, last_agent: LastAgentLookup | None = None):
        self.config = config
        self.board = board
        self.last_agent = last_agent
        self.entries: list[QueueEntry] = []
        self.events: list[QueueEvent] = []
        self.calls_by_member: dict[str, int] = {}
        self._rr_last: str | None = None
        self._served: dict[str, str] = {}  # call id -> agent extension, while connected
        self._recent_waits: list[float] = []

    # -- helpers -----------------------------------------------------------
    def _log(self, now: float, call_id: str, event: str, agent: str = "", **data) -> None:
        self.events.append(QueueEvent(now, self.config.id, call_id, agent, event, data))

    def drain_events(self) -> list[QueueEvent]:
        events, self.events = self.events, []
        return events

    def _entry(self, call_id: str) -> QueueEntry | None:
        return next((e for e in self.entries if e.call_id == call_id), None)

    def staffed(self) -> bool:
        """Someone logged in who is not paused: the queue is not 'empty'."""
        return any(self.board.agents.get(m) is not None and self.board.agents[m].state not in
                   (AgentState.LOGGED_OUT, AgentState.PAUSED) for m in self.config.members)

    def estimated_wait(self) -> float | None:
        """Average wait of the last answered callers (Asterisk's holdtime)."""
        if not self._recent_waits:
            return None
        return sum(self._recent_waits) / len(self._recent_waits)

    # -- callers -----------------------------------------------------------
    def join(self, call_id: str, caller: str, now: float) -> list:
        cfg = self.config
        if len(self.entries) >= cfg.max_callers:
            self._log(now, call_id, "FULL")
            return [Leave(call_id, QueueResult.FULL, cfg.failover, 0.0)]
        if not cfg.join_empty and not self.staffed():
            self._log(now, call_id, "JOINEMPTY")
            return [Leave(call_id, QueueResult.JOINEMPTY, cfg.failover, 0.0)]
        entry = QueueEntry(call_id, caller, now, last_announce=now)
        if cfg.sticky_days and self.last_agent is not None:
            entry.sticky = self.last_agent(caller, cfg.sticky_days)
        self.entries.append(entry)
        self._log(now, call_id, "ENTERQUEUE", caller=caller, position=len(self.entries))
        return self.dispatch(now)

    def caller_left(self, call_id: str, now: float) -> list:
        """The caller hung up while waiting: an abandoned call."""
        entry = self._entry(call_id)
        if entry is None:
            return []
        actions = self._withdraw(entry, now)
        self._log(now, call_id, "ABANDON", position=1 + len(self.entries), wait=now - entry.joined_at)
        return actions + self.dispatch(now)

    def _withdraw(self, entry: QueueEntry, now: float) -> list:
        """Take a caller out of the queue; stop the phones ringing for them."""
        self.entries.remove(entry)
        for ext in entry.ringing:
            self.board.offer_withdrawn(ext, now)
        return [Cancel(entry.call_id, ext, "caller-left") for ext in entry.ringing]

    def exit_key(self, call_id: str, digit: str, now: float) -> list:
        entry = self._entry(call_id)
        cfg = self.config
        if entry is None or not cfg.exit_key or digit != cfg.exit_key or cfg.exit_target is None:
            return []
        actions = self._withdraw(entry, now)
        wait = now - entry.joined_at
        self._log(now, call_id, "EXITWITHKEY", key=digit, wait=wait)
        return actions + [Leave(call_id, QueueResult.EXITKEY, cfg.exit_target, wait)]

    # -- offers ------------------------------------------------------------
    def offer_answered(self, call_id: str, extension: str, now: float) -> list:
        entry = self._entry(call_id)
        if entry is None or extension not in entry.ringing:
            return [Cancel(call_id, extension, "caller-left")]
        self.entries.remove(entry)
        wait = now - entry.joined_at
        actions = []
        for other in entry.ringing:
            if other != extension:
                self.board.offer_withdrawn(other, now)
                actions.append(Cancel(call_id, other, "answered-elsewhere"))
        self.board.answered(extension, now)
        self.calls_by_member[extension] = self.calls_by_member.get(extension, 0) + 1
        self._served[call_id] = extension
        self._recent_waits = (self._recent_waits + [wait])[-10:]
        self._log(now, call_id, "CONNECT", extension, wait=wait)
        return actions + [Connect(call_id, extension, wait)] + self.dispatch(now)

    def offer_failed(self, call_id: str, extension: str, now: float, reason: str = "noanswer") -> list:
        """The agent's phone did not answer (timeout, busy, declined, unreachable)."""
        entry = self._entry(call_id)
        if entry is not None:
            entry.ringing.pop(extension, None)
            entry.missed_by.add(extension)
            if not entry.ringing:
                entry.retry_at = now + self.config.retry_s
        paused = self.board.offer_failed(extension, now, autopause_after=self.config.autopause_after)
        self._log(now, call_id, "RINGNOANSWER", extension, reason=reason)
        if paused:
            self._log(now, call_id, "PAUSE", extension, reason="no-answer")
        return self.dispatch(now)

    def call_ended(self, call_id: str, now: float, hung_up_by: str = "caller") -> list:
        """A connected call is over: the agent goes into wrap-up."""
        extension = self._served.pop(call_id, None)
        if extension is None:
            return []
        agent = self.board.get(extension)
        talk = now - agent.answered_at if agent.answered_at is not None else 0.0
        self.board.call_ended(extension, now, self.config.wrapup_s)
        self._log(now, call_id, "COMPLETECALLER" if hung_up_by == "caller" else "COMPLETEAGENT",
                  extension, talk=talk)
        return []

    # -- time --------------------------------------------------------------
    def tick(self, now: float) -> list:
        cfg = self.config
        actions: list = []
        self.board.tick(now)
        for entry in list(self.entries):
            for ext, deadline in list(entry.ringing.items()):
                if now >= deadline:
                    actions.append(Cancel(entry.call_id, ext, "timeout"))
                    actions += self.offer_failed(entry.call_id, ext, now, "timeout")
            if entry not in self.entries:
                continue
            wait = now - entry.joined_at
            if cfg.max_wait_s and wait >= cfg.max_wait_s and not entry.ringing:
                self.entries.remove(entry)
                self._log(now, entry.call_id, "EXITWITHTIMEOUT", wait=wait)
                actions.append(Leave(entry.call_id, QueueResult.TIMEOUT, cfg.failover, wait))
                continue
            if cfg.announce_every_s and now - entry.last_announce >= cfg.announce_every_s and not entry.ringing:
                entry.last_announce = now
                actions.append(Announce(entry.call_id, self.entries.index(entry) + 1, self.estimated_wait()))
        if cfg.leave_when_empty and self.entries and not self.staffed():
            for entry in [e for e in self.entries if not e.ringing]:
                self.entries.remove(entry)
                wait = now - entry.joined_at
                self._log(now, entry.call_id, "EXITEMPTY", wait=wait)
                actions.append(Leave(entry.call_id, QueueResult.LEAVEEMPTY, cfg.failover, wait))
        return actions + self.dispatch(now)

    def dispatch(self, now: float) -> list:
        """Offer waiting callers, head first, to free agents."""
        actions = []
        for entry in self.entries:
            if entry.ringing or now < entry.retry_at:
                continue
            chosen = self._choose(entry)
            if not chosen:
                break  # nobody free: callers behind the head wait too (FIFO)
            for ext in chosen:
                self.board.offered(ext, entry.call_id, now)
                entry.ringing[ext] = now + self.config.ring_timeout_s
                self._rr_last = ext
                actions.append(Offer(entry.call_id, ext, self.config.ring_timeout_s))
        return actions

    def _choose(self, entry: QueueEntry) -> list[str]:
        members = self.config.members
        free = [m for m in members if m in self.board.agents and self.board.agents[m].state is AgentState.AVAILABLE]
        if not free:
            return []
        if entry.sticky in free:
            return [entry.sticky]
        # Someone who already let this caller ring waits until the others tried.
        fresh = [m for m in free if m not in entry.missed_by] or free
        strategy = self.config.strategy
        if strategy is Strategy.RINGALL:
            return fresh
        if strategy is Strategy.LEASTRECENT:
            return [min(fresh, key=lambda m: (self.board.agents[m].idle_since, members.index(m)))]
        if strategy is Strategy.FEWESTCALLS:
            return [min(fresh, key=lambda m: (self.calls_by_member.get(m, 0), members.index(m)))]
        # rrmemory: the first free member after the one offered last.
        start = members.index(self._rr_last) + 1 if self._rr_last in members else 0
        for i in range(len(members)):
            candidate = members[(start + i) % len(members)]
            if candidate in fresh:
                return [candidate]
        return []

    def snapshot(self, now: float) -> dict:
        return {
            "id": self.config.id,
            "strategy": self.config.strategy.value,
            "waiting": len(self.entries),
            "longest_wait_s": round(max((now - e.joined_at for e in self.entries), default=0.0), 1),
            "callers": [{"call_id": e.call_id, "caller": e.caller, "wait_s": round(now - e.joined_at, 1),
                         "ringing": sorted(e.ringing)} for e in self.entries],
        }
