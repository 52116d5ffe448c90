"""Status LEDs and their blink patterns.

Wiring: each LED from its GPIO through a 330 Ω resistor to the LED's
anode, cathode to ground (active high). Patterns are chosen to be told
apart by eye across a shop counter:

    ON      steady
    SLOW    1 s on, 1 s off        (something is going on: a call)
    FAST    0.15 s on, 0.15 s off  (attention: ringing, threshold breached)
    DOUBLE  two short flashes every 1.5 s (fault)

One :class:`LedBoard` thread drives every blinking LED. It sleeps until
the next edge of any LED and, when nothing blinks, waits for a change with
no timeout, so a still panel costs no CPU.
"""
from __future__ import annotations

import enum
import threading
import time
from typing import Callable


class LedMode(enum.Enum):
    OFF = "off"
    ON = "on"
    SLOW = "slow"
    FAST = "fast"
    DOUBLE = "double"


# (on, off, on, off, ...) durations of one period, starting with "on".
PATTERNS: dict[LedMode, tuple[float, ...]] = {
    LedMode.SLOW: (1.0, 1.0),
    LedMode.FAST: (0.15, 0.15),
    LedMode.DOUBLE: (0.12, 0.18, 0.12, 1.08),
}


def pattern_level(mode: LedMode, elapsed: float) -> tuple[bool, float | None]:
    """LED level ``elapsed`` seconds into ``mode``, and seconds to its next edge."""
    if mode is LedMode.OFF:
        return False, None
    if mode is LedMode.ON:
        return True, None
    steps = PATTERNS[mode]
    t = elapsed % sum(steps)
    for index, step in enumerate(steps):
        if t < step:
            return index % 2 == 0, step - t
        t -= step
    return False, steps[-1]


class StatusLed:
    """One LED on a GPIO pin.

    :param pin: BCM number.
    :param factory: the pin backend (``firmware.hw.pins.pin_factory()``).
    """

    def __init__(self, name: str, pin: int, *, factory):
        self.name = name
        self.pin = factory.pin(pin)
        self.pin.setup_output()
        self.mode = LedMode.OFF
        self.since = 0.0

    def apply(self, now: float) -> float | None:
        level, next_edge = pattern_level(self.mode, now - self.since)
        self.pin.write(level, at=now)
        return next_edge


class LedBoard:
    """The panel's LEDs and the thread that blinks them.

    ``set(name, mode)`` may be called from any thread.
    """

    def __init__(self, leds: list[StatusLed], clock: Callable[[], float] = time.monotonic):
        self.leds = {led.name: led for led in leds}
        self.clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set(self, name: str, mode: LedMode) -> None:
        led = self.leds.get(name)
        if led is None or led.mode is mode:
            return
        with self._lock:
            led.mode = mode
            led.since = self.clock()
        self._changed.set()

    def modes(self) -> dict[str, LedMode]:
        return {name: led.mode for name, led in self.leds.items()}

    def step(self) -> float | None:
        """Drive every LED to its level now; seconds until the next edge, or None."""
        now = self.clock()
        waits = []
        with self._lock:
            for led in self.leds.values():
                wait = led.apply(now)
                if wait is not None:
                    waits.append(wait)
        return min(waits) if waits else None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leds", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.step()
            self._changed.wait(timeout=wait)  # None: sleep until a mode changes
            self._changed.clear()

    def close(self) -> None:
        self._stop.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for led in self.leds.values():
            led.pin.write(False)
