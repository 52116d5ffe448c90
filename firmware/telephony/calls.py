"""Calls in progress and the admission rule that keeps the box inside its limit.

The media engine has a fixed number of call slots (pjsua's PJSUA_MAX_CALLS,
4 in the PyPI wheel, >= 32 in the Pi build). :class:`Admission` decides
whether a new call may take one; a call that may not is answered 486 Busy Here
instead of reaching a half-working state.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field


class CallState(enum.Enum):
    OFFERED = "offered"      # INVITE seen, not answered yet
    RINGING = "ringing"      # the core is calling out and the far end rings
    UP = "up"                # answered, media flowing
    ENDED = "ended"


class Direction(enum.Enum):
    INBOUND = "inbound"      # a phone or line called the core
    OUTBOUND = "outbound"    # the core called a phone


@dataclass
class ActiveCall:
    """One leg the core terminates. ``started``/``answered`` are event times."""

    call_id: int
    direction: Direction
    caller: str
    dialed: str
    app: str
    started: float
    state: CallState = CallState.OFFERED
    answered: float | None = None
    line: str = ""           # the line or trunk carrying it ("" for the box's own phones)
    uses_slot: bool = True   # a media-engine call slot (a modem line's port leg has none)

    def as_dict(self, now: float) -> dict:
        return {
            "id": self.call_id,
            "direction": self.direction.value,
            "caller": self.caller,
            "dialed": self.dialed,
            "app": self.app,
            "state": self.state.value,
            "duration": round(now - (self.answered or self.started), 1),
            "line": self.line,
        }


@dataclass
class Admission:
    """Admits calls against the engine's real limit and the configured one.

    :param engine_limit: call slots the media engine really has.
    :param configured_limit: the owner's cap (``settings.max_calls``), or None.
    """

    engine_limit: int
    configured_limit: int | None = None
    refused: int = field(default=0)

    @property
    def limit(self) -> int:
        if self.configured_limit is None:
            return self.engine_limit
        return min(self.engine_limit, self.configured_limit)

    def admit(self, active: int) -> bool:
        """True if one more call fits; counts refusals."""
        if active < self.limit:
            return True
        self.refused += 1
        return False


class CallTable:
    """The calls in progress, keyed by the engine's call id."""

    def __init__(self):
        self._calls: dict[int, ActiveCall] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def slot_count(self) -> int:
        """Legs that hold one of the media engine's call slots (modem line legs do not)."""
        return sum(1 for c in self._calls.values() if c.uses_slot)

    def add(self, call: ActiveCall) -> None:
        self._calls[call.call_id] = call

    def get(self, call_id: int) -> ActiveCall | None:
        return self._calls.get(call_id)

    def answered(self, call_id: int, when: float) -> None:
        call = self._calls.get(call_id)
        if call and call.state is not CallState.UP:
            call.state = CallState.UP
            call.answered = when

    def ended(self, call_id: int) -> ActiveCall | None:
        call = self._calls.pop(call_id, None)
        if call:
            call.state = CallState.ENDED
        return call

    def snapshot(self, now: float) -> list[dict]:
        return [c.as_dict(now) for c in sorted(self._calls.values(), key=lambda c: c.call_id)]
