"""Building the front panel from the box's hardware, in the core process.

Pins (BCM) of the SmallPBX panel hat; the display is an SSD1306 OLED on
I2C bus 1 at 0x3C (SDA GPIO2, SCL GPIO3). On simulated hardware the pins
are mock pins and the OLED is the fake bus with an SSD1306 glass, so the
real drivers run and the display can be shown as a picture.
"""
from __future__ import annotations

import logging

from firmware.errors import SmallPbxError
from firmware.hw.buttons import PageButton
from firmware.hw.display import DisplayError, OledDisplay
from firmware.hw.fakes_i2c import FakeSMBus, SSD1306Glass
from firmware.hw.leds import LedBoard, StatusLed
from firmware.hw.pins import pin_factory
from firmware.panel.panel import FrontPanel

log = logging.getLogger(__name__)

LED_PINS = {"line1": 5, "line2": 6, "agents": 13, "waiting": 19, "fault": 26}
BUTTON_PIN = 21
OLED_ADDRESS = 0x3C


def build_panel(*, simulated: bool, language: str, on_night_toggle, on_recovery) -> FrontPanel | None:
    """The panel, or None if the hardware is missing (the box runs on without it)."""
    try:
        factory = pin_factory("mock" if simulated else None)
        leds = LedBoard([StatusLed(name, pin, factory=factory) for name, pin in LED_PINS.items()])
    except SmallPbxError as exc:
        log.error("panel LEDs unavailable, running without them: %s", exc)
        return None
    display = OledDisplay(address=OLED_ADDRESS, bus=_simulated_bus() if simulated else None)
    try:
        display.start()
    except DisplayError as exc:
        log.error("panel display unavailable, running without it: %s", exc)
        display = None
    panel = FrontPanel(leds=leds, display=display, language=language,
                       on_night_toggle=on_night_toggle, on_recovery=on_recovery)
    try:
        panel.button = PageButton(BUTTON_PIN, factory=factory, on_press=panel.on_press)
    except SmallPbxError as exc:
        log.error("panel button unavailable: %s", exc)
    panel.pins = factory
    return panel


def _simulated_bus() -> FakeSMBus:
    bus = FakeSMBus()
    bus.attach(OLED_ADDRESS, SSD1306Glass())
    return bus
