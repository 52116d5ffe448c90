"""What each LED means, decided from the core's live state (pure).

| LED     | off                 | on                  | slow blink            | fast blink                 | double flash |
|---------|---------------------|---------------------|-----------------------|----------------------------|--------------|
| line N  | no line N           | line up, idle       | line in a call        | line ringing               | line down    |
| agents  | nobody logged in    | an agent is free    | all agents busy       |                            |              |
| waiting | nobody waiting      | callers waiting     |                       | longest wait over the SL threshold | |
| fault   | all well            |                     |                       |                            | system fault |
"""
from __future__ import annotations

from dataclasses import dataclass, field

from firmware.hw.leds import LedMode

LINE_LEDS = ("line1", "line2")
LINE_MODES = {"up": LedMode.ON, "in-call": LedMode.SLOW, "ringing": LedMode.FAST, "down": LedMode.DOUBLE}


@dataclass(frozen=True)
class PanelState:
    """The few facts the panel shows, taken from the control socket's status."""

    lines: tuple[tuple[str, str], ...] = ()     # (name, up|ringing|in-call|down)
    agents_free: int = 0
    agents_busy: int = 0
    waiting: int = 0
    longest_wait_s: float = 0.0
    sl_threshold_s: float = 15.0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    service_level: float | None = None
    faults: tuple[str, ...] = ()
    address: str = ""
    night_mode: bool = False
    queues: tuple[dict, ...] = field(default_factory=tuple)


def from_status(status: dict, address: str = "") -> PanelState:
    center = status.get("callcenter") or {}
    agents = center.get("agents", [])
    queues = center.get("queues", [])
    today = center.get("today", [])
    faults = []
    if "unreachable" in str(status.get("proxy", "")):
        faults.append("SIP proxy down")
    lines = tuple((l["name"], l.get("panel_state", l["state"])) for l in status.get("lines", []))
    faults += [f"{name} down" for name, state in lines if state == "down"]
    answered = sum(t["answered"] for t in today)
    within = sum((t["service_level"] or 0) * t["answered"] for t in today)
    thresholds = [t["service_level_threshold_s"] for t in today] or [15.0]
    return PanelState(
        lines=lines,
        agents_free=sum(a["state"] == "available" for a in agents),
        agents_busy=sum(a["state"] in ("ringing", "on-call", "wrap-up") for a in agents),
        waiting=sum(q["waiting"] for q in queues),
        longest_wait_s=max((q["longest_wait_s"] for q in queues), default=0.0),
        sl_threshold_s=min(thresholds),
        offered=sum(t["offered"] for t in today),
        answered=answered,
        abandoned=sum(t["abandoned"] for t in today),
        service_level=(within / answered) if answered else None,
        faults=tuple(faults),
        address=address,
        night_mode=bool(status.get("night_mode")),
    )


def led_modes(state: PanelState) -> dict[str, LedMode]:
    modes = {name: LedMode.OFF for name in LINE_LEDS}
    for led, (_, line_state) in zip(LINE_LEDS, state.lines):
        modes[led] = LINE_MODES.get(line_state, LedMode.DOUBLE)
    if state.agents_free:
        modes["agents"] = LedMode.ON
    elif state.agents_busy:
        modes["agents"] = LedMode.SLOW
    else:
        modes["agents"] = LedMode.OFF
    if not state.waiting:
        modes["waiting"] = LedMode.OFF
    elif state.longest_wait_s > state.sl_threshold_s:
        modes["waiting"] = LedMode.FAST
    else:
        modes["waiting"] = LedMode.ON
    modes["fault"] = LedMode.DOUBLE if state.faults else LedMode.OFF
    return modes
