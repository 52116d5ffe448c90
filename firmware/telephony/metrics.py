"""Live numbers of a queue for today, computed from its queue_log events.

Definitions follow Asterisk's ``QueueSummary``/``queue show``:
service level = answered within the threshold / answered; the second
variant also counts abandoned calls in the denominator (Asterisk's
``servicelevel`` SL2 with abandons). Average speed of answer is the mean
wait of answered calls; abandon rate is abandoned / offered.
"""
from __future__ import annotations

from dataclasses import dataclass

from firmware.telephony.queues import QueueEvent


@dataclass
class QueueStats:
    queue: str
    sl_threshold_s: float = 15.0
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    timeouts: int = 0
    exit_key: int = 0
    no_agents: int = 0
    completed: int = 0
    total_wait_answered: float = 0.0
    total_talk: float = 0.0

    def record(self, event: QueueEvent) -> None:
        kind, data = event.event, event.data
        if kind == "ENTERQUEUE":
            self.offered += 1
        elif kind == "CONNECT":
            self.answered += 1
            self.total_wait_answered += data["wait"]
            self.answered_within += data["wait"] <= self.sl_threshold_s
        elif kind == "ABANDON":
            self.abandoned += 1
            self.abandoned_within += data["wait"] <= self.sl_threshold_s
        elif kind == "EXITWITHTIMEOUT":
            self.timeouts += 1
        elif kind == "EXITWITHKEY":
            self.exit_key += 1
        elif kind in ("JOINEMPTY", "EXITEMPTY", "FULL"):
            self.no_agents += 1
        elif kind in ("COMPLETECALLER", "COMPLETEAGENT"):
            self.completed += 1
            self.total_talk += data.get("talk", 0.0)

    @staticmethod
    def _ratio(part: float, whole: float) -> float | None:
        return round(part / whole, 4) if whole else None

    def as_dict(self) -> dict:
        return {
            "queue": self.queue,
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "timeouts": self.timeouts,
            "exit_key": self.exit_key,
            "no_agents": self.no_agents,
            "service_level": self._ratio(self.answered_within, self.answered),
            "service_level_with_abandons": self._ratio(self.answered_within, self.answered + self.abandoned),
            "service_level_threshold_s": self.sl_threshold_s,
            "average_speed_of_answer_s": self._ratio(self.total_wait_answered, self.answered),
            "average_talk_time_s": self._ratio(self.total_talk, self.completed),
            "abandon_rate": self._ratio(self.abandoned, self.offered),
        }
