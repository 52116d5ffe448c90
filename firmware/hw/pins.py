"""GPIO pins over a swappable backend, the way gpiozero's pin factories work.

A *factory* hands out pins by BCM number; devices (LEDs, buttons) never
import ``RPi.GPIO`` themselves. Backends:

- ``rpigpio``: RPi.GPIO (rpi-lgpio provides the same module on a Pi 5),
  imported only when chosen: on a PC its import raises RuntimeError.
- ``mock``: records every level written (``MockPin.states``) and lets a
  test or the simulated box drive inputs (``drive_low(at)``), with the time
  passed in, so nothing sleeps.

Choice: the argument, else ``$SMALLPBX_PIN_FACTORY``, else ``mock`` on
simulated hardware and ``rpigpio`` on a Pi.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from firmware.errors import SmallPbxError
from firmware.hw.platform import detect_platform

log = logging.getLogger(__name__)

EdgeCallback = Callable[[bool, float], None]   # (level, time)


class PinError(SmallPbxError, OSError):
    """A pin could not be set up (wrong number, no permission, no GPIO)."""


class MockPin:
    def __init__(self, number: int):
        self.number = number
        self.mode = "unset"
        self.level = False
        self.states: list[tuple[float, bool]] = []   # outputs: (time, level) history
        self._callback: EdgeCallback | None = None
        self._lock = threading.Lock()

    def setup_output(self) -> None:
        self.mode = "output"

    def setup_input(self, pull_up: bool = True) -> None:
        self.mode = "input"
        self.level = pull_up  # idle level of a button wired to ground

    def write(self, level: bool, at: float | None = None) -> None:
        with self._lock:
            if self.mode != "output":
                raise PinError(f"GPIO{self.number} is not an output")
            if self.states and self.states[-1][1] == level:
                return
            self.level = level
            self.states.append((time.monotonic() if at is None else at, level))

    def read(self) -> bool:
        return self.level

    def on_edge(self, callback: EdgeCallback | None) -> None:
        self._callback = callback

    def _drive(self, level: bool, at: float | None) -> None:
        if self.mode != "input":
            raise PinError(f"GPIO{self.number} is not an input")
        if level == self.level:
            return
        self.level = level
        if self._callback:
            self._callback(level, time.monotonic() if at is None else at)

    def drive_low(self, at: float | None = None) -> None:
        self._drive(False, at)

    def drive_high(self, at: float | None = None) -> None:
        self._drive(True, at)

    def close(self) -> None:
        self._callback = None


class MockFactory:
    name = "mock"

    def __init__(self):
        self.pins: dict[int, MockPin] = {}

    def pin(self, number: int) -> MockPin:
        if not 0 <= number <= 27:
            raise PinError(f"GPIO{number} does not exist on a Raspberry Pi header")
        return self.pins.setdefault(number, MockPin(number))

    def close(self) -> None:
        for pin in self.pins.values():
            pin.close()


class _GpioPin:
    """One RPi.GPIO pin (BCM numbering)."""

    def __init__(self, gpio, number: int):
        self.gpio = gpio
        self.number = number

    def setup_output(self) -> None:
        self.gpio.setup(self.number, self.gpio.OUT, initial=self.gpio.LOW)

    def setup_input(self, pull_up: bool = True) -> None:
        self.gpio.setup(self.number, self.gpio.IN, pull_up_down=self.gpio.PUD_UP if pull_up else self.gpio.PUD_DOWN)

    def write(self, level: bool, at: float | None = None) -> None:
        self.gpio.output(self.number, self.gpio.HIGH if level else self.gpio.LOW)

    def read(self) -> bool:
        return bool(self.gpio.input(self.number))

    def on_edge(self, callback: EdgeCallback | None) -> None:
        self.gpio.remove_event_detect(self.number)
        if callback is not None:
            # RPi.GPIO calls this on its own thread; devices hand it on, never block.
            self.gpio.add_event_detect(self.number, self.gpio.BOTH, bouncetime=20,
                                       callback=lambda ch: callback(self.read(), time.monotonic()))

    def close(self) -> None:
        try:
            self.gpio.remove_event_detect(self.number)
            self.gpio.cleanup(self.number)
        except (RuntimeError, ValueError):
            pass


class RPiGPIOFactory:
    name = "rpigpio"

    def __init__(self):
        try:
            import RPi.GPIO as gpio  # only on a Pi: elsewhere the import raises
        except (ImportError, RuntimeError) as exc:
            raise PinError(f"RPi.GPIO is not usable here: {exc}") from exc
        gpio.setwarnings(False)
        gpio.setmode(gpio.BCM)
        self.gpio = gpio
        self.pins: dict[int, _GpioPin] = {}

    def pin(self, number: int) -> _GpioPin:
        if not 0 <= number <= 27:
            raise PinError(f"GPIO{number} does not exist on a Raspberry Pi header")
        return self.pins.setdefault(number, _GpioPin(self.gpio, number))

    def close(self) -> None:
        for pin in self.pins.values():
            pin.close()


def pin_factory(name: str | None = None):
    """The pin backend for this box (see the module docstring)."""
    name = name or os.environ.get("SMALLPBX_PIN_FACTORY")
    if not name:
        name = "mock" if detect_platform().simulated else "rpigpio"
    if name == "mock":
        return MockFactory()
    if name == "rpigpio":
        return RPiGPIOFactory()
    raise PinError(f"unknown pin factory {name!r} (mock or rpigpio)")
