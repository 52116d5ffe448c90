"""Panel walk-through for a technician: each LED in turn, each page, the button.

Real box (SMALLPBX_HIL=1): look at the panel while it runs; each LED lights
for a second in the order printed, each page shows for two seconds, then
press the button once within 30 s. Here: the same steps on mock pins and the
fake OLED glass, checked by reading back what was driven.
"""
import os
import time

import pytest

from firmware.hw.buttons import PageButton
from firmware.hw.display import OledDisplay
from firmware.hw.fakes_i2c import FakeSMBus, SSD1306Glass
from firmware.hw.leds import LedBoard, LedMode, StatusLed
from firmware.hw.pins import pin_factory
from firmware.panel.build import BUTTON_PIN, LED_PINS, OLED_ADDRESS
from firmware.panel.indicators import PanelState
from firmware.panel.pages import PAGES
from firmware.panel.render import render_page


@pytest.fixture
def hil() -> bool:
    """SMALLPBX_HIL=1 on a real box; otherwise the emulated hardware."""
    return os.environ.get("SMALLPBX_HIL") == "1"


def test_panel_walkthrough(hil):
    factory = pin_factory(None if hil else "mock")
    board = LedBoard([StatusLed(name, pin, factory=factory) for name, pin in LED_PINS.items()])
    glass = None
    if hil:
        display = OledDisplay(address=OLED_ADDRESS)
    else:
        bus, glass = FakeSMBus(), SSD1306Glass()
        bus.attach(OLED_ADDRESS, glass)
        display = OledDisplay(address=OLED_ADDRESS, bus=bus)
    display.start()
    presses = []
    PageButton(BUTTON_PIN, factory=factory, on_press=lambda kind, held: presses.append(kind))
    dwell = 1.0 if hil else 0.0
    try:
        for name in LED_PINS:
            print(f"LED {name} (GPIO{LED_PINS[name]}) on")
            for other in LED_PINS:
                board.set(other, LedMode.ON if other == name else LedMode.OFF)
            board.step()
            time.sleep(dwell)
            if not hil:
                assert factory.pin(LED_PINS[name]).read() is True
                assert [factory.pin(p).read() for n, p in LED_PINS.items() if n != name] == [False] * 4
        sample = PanelState(waiting=1, agents_free=1, address="192.168.1.20")
        for page in PAGES:
            print(f"page {page}")
            image = render_page(page, sample, "zh_CN")
            display.show(image)
            time.sleep(2 * dwell)
            if glass is not None:
                assert glass.image().tobytes() == image.convert("1").tobytes()
        print("press the button once")
        if hil:
            deadline = time.monotonic() + 30
            while not presses and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            button = factory.pin(BUTTON_PIN)
            button.drive_low(at=10.0)
            button.drive_high(at=10.3)
        assert presses == ["short"], "no button press was read"
    finally:
        board.close()
        display.close()
        factory.close()
