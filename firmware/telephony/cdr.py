"""The call record: one per call, built up as the call moves through the box.

Times are event times (epoch seconds); the adapter fills the record as the
call arrives, takes IVR choices, waits in a queue and is answered, and
hands it to the record store when the call ends.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class Disposition(enum.Enum):
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned-in-queue"
    ABANDONED_IVR = "abandoned-in-ivr"
    EXIT_KEY = "exit-key"
    TIMEOUT = "timeout"
    VOICEMAIL = "voicemail"
    NO_AGENTS = "no-agents"
    REFUSED = "refused"
    HANGUP = "hangup"
    # Calls the box places through a line for an extension:
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"


@dataclass
class Offer:
    agent: str
    at: float
    outcome: str  # answered, noanswer, busy, declined, withdrawn


@dataclass
class CallRecord:
    uid: str
    arrived: float
    caller: str
    line: str
    route: str = ""
    ivr_choices: list[str] = field(default_factory=list)
    queue: str = ""
    queue_entered: float | None = None
    answered: float | None = None
    ended: float | None = None
    agent: str = ""
    offers: list[Offer] = field(default_factory=list)
    wrapup_s: float = 0.0
    disposition: Disposition = Disposition.HANGUP
    recording: str = ""
    dialed: str = ""          # the number an outbound call dialled

    @property
    def wait_s(self) -> float | None:
        """Time in the queue until answered, or until the caller left it."""
        if self.queue_entered is None:
            return None
        end = self.answered if self.answered is not None else self.ended
        return None if end is None else end - self.queue_entered

    @property
    def talk_s(self) -> float | None:
        if self.answered is None or self.ended is None:
            return None
        return self.ended - self.answered

    def as_dict(self) -> dict:
        d = asdict(self)
        d["disposition"] = self.disposition.value
        d["wait_s"] = self.wait_s
        d["talk_s"] = self.talk_s
        return d
