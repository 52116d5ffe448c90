"""Agents: the people who answer queued calls, and the state each one is in.

An agent is an extension that logs in. Its state is one for the whole box
(an agent talking in queue A is busy for queue B too), like Asterisk's
device state and FreeSWITCH mod_callcenter's agent status:

    logged-out -> available -> ringing -> on-call -> wrap-up -> available
                     ^  |                                 (after wrap-up time)
                     |  v
                    paused (with a reason; also after N missed offers)

Idle time is measured from the end of wrap-up (mod_callcenter's
longest-idle-agent), so an agent still writing notes is not "idle".
Time only comes in as arguments (event times): nothing here reads a clock.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class AgentState(enum.Enum):
    LOGGED_OUT = "logged-out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    PAUSED = "paused"


AUTO_PAUSE_REASON = "no-answer"


@dataclass
class Agent:
    """One agent. ``idle_since`` is when it last became available."""

    extension: str
    name: str = ""
    state: AgentState = AgentState.LOGGED_OUT
    state_since: float = 0.0
    idle_since: float = 0.0
    pause_reason: str = ""
    wrapup_until: float = 0.0
    missed_in_row: int = 0
    calls_taken: int = 0
    talk_time: float = 0.0
    answered_at: float | None = None
    serving: str | None = None  # call id of the caller being offered/served

    def _set(self, state: AgentState, now: float) -> None:
        self.state = state
        self.state_since = now

    def as_dict(self, now: float) -> dict:
        return {
            "extension": self.extension,
            "name": self.name,
            "state": self.state.value,
            "in_state_s": round(now - self.state_since, 1),
            "pause_reason": self.pause_reason,
            "calls": self.calls_taken,
            "talk_time_s": round(self.talk_time, 1),
        }


class AgentError(ValueError):
    """An agent action that makes no sense in the agent's state."""


@dataclass
class AgentBoard:
    """All agents and their transitions. Each method takes the event time."""

    agents: dict[str, Agent] = field(default_factory=dict)

    def get(self, extension: str) -> Agent:
        try:
            return self.agents[extension]
        except KeyError:
            raise AgentError(f"{extension} is not an agent") from None

    def ensure(self, extension: str, name: str = "") -> Agent:
        agent = self.agents.get(extension)
        if agent is None:
            agent = self.agents[extension] = Agent(extension, name)
        elif name:
            agent.name = name
        return agent

    # -- actions an agent takes (feature codes, control API) -------------
    def login(self, extension: str, now: float) -> Agent:
        agent = self.ensure(extension)
        if agent.state is AgentState.LOGGED_OUT:
            agent._set(AgentState.AVAILABLE, now)
            agent.idle_since = now
            agent.missed_in_row = 0
        return agent

    def logout(self, extension: str, now: float) -> Agent:
        agent = self.get(extension)
        if agent.state in (AgentState.RINGING, AgentState.ON_CALL):
            raise AgentError(f"{extension} is on a call; log out after it")
        agent._set(AgentState.LOGGED_OUT, now)
        agent.pause_reason = ""
        return agent

    def pause(self, extension: str, now: float, reason: str = "break") -> Agent:
        agent = self.get(extension)
        if agent.state is AgentState.LOGGED_OUT:
            raise AgentError(f"{extension} is not logged in")
        agent.pause_reason = reason or "break"
        if agent.state in (AgentState.AVAILABLE, AgentState.WRAP_UP):
            agent._set(AgentState.PAUSED, now)
        # Ringing or on a call: the pause takes effect when the call ends.
        return agent

    def unpause(self, extension: str, now: float) -> Agent:
        agent = self.get(extension)
        if agent.state is AgentState.PAUSED:
            agent._set(AgentState.AVAILABLE, now)
            agent.idle_since = now
        agent.pause_reason = ""
        agent.missed_in_row = 0
        return agent

    # -- what the ACD does to agents -------------------------------------
    def offered(self, extension: str, call_id: str, now: float) -> None:
        agent = self.get(extension)
        if agent.state is not AgentState.AVAILABLE:
            raise AgentError(f"{extension} is {agent.state.value}, not available")
        agent._set(AgentState.RINGING, now)
        agent.serving = call_id

    def offer_failed(self, extension: str, now: float, *, autopause_after: int) -> bool:
        """The agent did not take the offer. Returns True if it got auto-paused."""
        agent = self.get(extension)
        agent.serving = None
        agent.missed_in_row += 1
        if autopause_after and agent.missed_in_row >= autopause_after:
            agent._set(AgentState.PAUSED, now)
            agent.pause_reason = AUTO_PAUSE_REASON
            return True
        if agent.pause_reason:  # paused while ringing
            agent._set(AgentState.PAUSED, now)
            return False
        # Back to available, but its idle clock is not reset by a miss.
        agent._set(AgentState.AVAILABLE, now)
        return False

    def offer_withdrawn(self, extension: str, now: float) -> None:
        """The caller went elsewhere (answered by another agent, hung up)."""
        agent = self.get(extension)
        agent.serving = None
        agent._set(AgentState.PAUSED if agent.pause_reason else AgentState.AVAILABLE, now)

    def answered(self, extension: str, now: float) -> None:
        agent = self.get(extension)
        agent._set(AgentState.ON_CALL, now)
        agent.answered_at = now
        agent.missed_in_row = 0

    def call_ended(self, extension: str, now: float, wrapup_s: float) -> None:
        agent = self.get(extension)
        if agent.answered_at is not None:
            agent.talk_time += now - agent.answered_at
            agent.calls_taken += 1
        agent.answered_at = None
        agent.serving = None
        agent.wrapup_until = now + wrapup_s
        agent._set(AgentState.WRAP_UP, now)

    def tick(self, now: float) -> list[Agent]:
        """End wrap-ups whose time is up; return the agents now available."""
        freed = []
        for agent in self.agents.values():
            if agent.state is AgentState.WRAP_UP and now >= agent.wrapup_until:
                if agent.pause_reason:
                    agent._set(AgentState.PAUSED, agent.wrapup_until)
                else:
                    agent._set(AgentState.AVAILABLE, agent.wrapup_until)
                    agent.idle_since = agent.wrapup_until
                    freed.append(agent)
        return freed

    def snapshot(self, now: float) -> list[dict]:
        return [a.as_dict(now) for a in sorted(self.agents.values(), key=lambda a: a.extension)]
