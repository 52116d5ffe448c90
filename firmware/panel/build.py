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
from firmware.hw.display import CharDisplay, DisplayError, OledDisplay
from firmware.hw.fakes_i2c import FakeSMBus, HD44780Glass, SSD1306Glass
from firmware.hw.leds import LedBoard, StatusLed
from firmware.hw.pins import pin_factory
from firmware.panel.panel import FrontPanel

log = logging.getLogger(__name__)

LED_PINS = {"line1": 5, "line2": 6, "agents": 13, "waiting": 19, "fault": 26}
BUTTON_PIN = 21
OLED_ADDRESS = 0x3C
LCD_ADDRESS = 0x27
LCD_SIZES = {"lcd16x2": (16, 2), "lcd20x4": (20, 4)}


def build_panel(*, simulated: bool, language: str, on_night_toggle, on_recovery,
                pins: dict | None = None, display_kind: str = "oled") -> FrontPanel | None:
    """The panel as configured (settings.panel_pins, settings.panel_display).

    Each device that is missing or broken is logged and left out; the box
    runs on with the rest.
    """
    pins = dict(pins if pins is not None else {**LED_PINS, "button": BUTTON_PIN})
    try:
        factory = pin_factory("mock" if simulated else None)
    except SmallPbxError as exc:
        log.error("no GPIO, the panel runs without LEDs and button: %s", exc)
        factory = None
    leds = []
    for name in LED_PINS:
        if factory is None or pins.get(name) is None:
            continue
        try:
            leds.append(StatusLed(name, pins[name], factory=factory))
        except SmallPbxError as exc:
            log.error("LED %s unavailable: %s", name, exc)
    display = _display(display_kind, simulated)
    panel = FrontPanel(leds=LedBoard(leds) if leds else None, display=display, language=language,
                       on_night_toggle=on_night_toggle, on_recovery=on_recovery)
    panel.button = None
    if factory is not None and pins.get("button") is not None:
        try:
            panel.button = PageButton(pins["button"], factory=factory, on_press=panel.on_press)
        except SmallPbxError as exc:
            log.error("panel button unavailable: %s", exc)
    panel.pins = factory
    return panel


def _display(kind: str, simulated: bool):
    if kind == "none":
        return None
    if kind == "oled":
        bus = _simulated_bus(OLED_ADDRESS, SSD1306Glass()) if simulated else None
        display = OledDisplay(address=OLED_ADDRESS, bus=bus)
    else:
        cols, rows = LCD_SIZES[kind]
        bus = _simulated_bus(LCD_ADDRESS, HD44780Glass(cols=cols, rows=rows)) if simulated else None
        display = CharDisplay(address=LCD_ADDRESS, cols=cols, rows=rows, bus=bus)
    try:
        display.start()
    except DisplayError as exc:
        log.error("panel display unavailable, running without it: %s", exc)
        return None
    return display


def _simulated_bus(address: int, glass) -> FakeSMBus:
    bus = FakeSMBus()
    bus.attach(address, glass)
    bus.glass = glass  # so a test or the web page can see what is shown
    return bus
