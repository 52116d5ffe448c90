"""Events posted into the core's owner thread.

Anything outside the owner thread (control socket, hardware drivers, signal
handlers) talks to pjsua2 only by posting one of these with
:meth:`firmware.core.engine.SipEngine.post`. Each carries the time it was
made (``rtime``), so logic that consumes it never reads the clock itself.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    rtime: float = field(default_factory=time.monotonic, kw_only=True)


@dataclass
class ControlRequest(Event):
    """A control-socket command that needs the owner thread.

    The poster waits on :attr:`done`; the owner thread fills ``result`` or
    ``error`` and sets it.
    """

    command: str
    args: dict
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Exception | None = None


@dataclass
class ReloadConfig(Event):
    """Re-read the config store; calls in progress are kept."""


@dataclass
class LegGone(Event):
    """A call leg is over: its pjsua2 objects may be dropped now."""

    call_id: int


@dataclass
class OwnerCall(Event):
    """Run ``fn`` on the owner thread (hardware buttons use this)."""

    fn: Any
