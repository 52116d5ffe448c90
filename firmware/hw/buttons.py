"""The panel's push button: short, long and very long presses.

Wiring: one leg to the GPIO, the other to ground; the internal pull-up
holds the pin high, a press pulls it low. Edges come from the backend with
their time, so presses are classified by how long the button was held:

    short      < 1 s     next display page
    long       2-8 s     toggle day/night mode
    very long  >= 10 s   at boot only: reset the admin password (never data)

Callbacks run on the backend's thread (RPi.GPIO's, or the caller's for the
mock): they must only hand the event on.
"""
from __future__ import annotations

from typing import Callable

SHORT_MAX_S = 1.0
LONG_MIN_S = 2.0
LONG_MAX_S = 8.0
VERY_LONG_S = 10.0


def classify(held_s: float) -> str | None:
    if held_s < 0.03:
        return None  # contact bounce
    if held_s < SHORT_MAX_S:
        return "short"
    if LONG_MIN_S <= held_s <= LONG_MAX_S:
        return "long"
    if held_s >= VERY_LONG_S:
        return "very-long"
    return None  # between the bands: ignored, so a hesitant press does nothing


class PageButton:
    """
    :param pin: BCM number.
    :param on_press: called with ``("short"|"long"|"very-long", held_seconds)``.
    """

    def __init__(self, pin: int, *, factory, on_press: Callable[[str, float], None]):
        self.pin = factory.pin(pin)
        self.on_press = on_press
        self._down_at: float | None = None
        self.pin.setup_input(pull_up=True)
        self.pin.on_edge(self._edge)

    def _edge(self, level: bool, at: float) -> None:
        if not level:            # pulled low: pressed
            self._down_at = at
            return
        if self._down_at is None:
            return
        held = at - self._down_at
        self._down_at = None
        kind = classify(held)
        if kind:
            self.on_press(kind, held)

    def held_since(self) -> float | None:
        """When the button went down, if it is down now (for the boot check)."""
        return self._down_at

    def close(self) -> None:
        self.pin.on_edge(None)
