"""The panel controller over mock pins; the display part uses the real drivers."""
from firmware.hw.buttons import PageButton
from firmware.hw.leds import LedBoard, LedMode, StatusLed
from firmware.hw.pins import MockFactory
from firmware.panel.indicators import PanelState
from firmware.panel.panel import FrontPanel
from firmware.panel.render import HEIGHT, WIDTH, render_page

LED_PINS = {"line1": 5, "line2": 6, "agents": 13, "waiting": 19, "fault": 26}


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def make_panel(clock, **kw):
    factory = MockFactory()
    board = LedBoard([StatusLed(n, p, factory=factory) for n, p in LED_PINS.items()], clock)
    panel = FrontPanel(leds=board, clock=clock, **kw)
    PageButton(21, factory=factory, on_press=panel.on_press)
    return panel, board, factory


def test_leds_follow_the_state_the_core_reports():
    clock = Clock()
    panel, board, factory = make_panel(clock)
    panel.update(PanelState(agents_free=1, waiting=2, longest_wait_s=20, sl_threshold_s=15))
    panel.refresh()
    modes = board.modes()
    assert modes["agents"] is LedMode.ON and modes["waiting"] is LedMode.FAST and modes["fault"] is LedMode.OFF
    board.step()
    assert factory.pin(13).states[-1][1] is True and factory.pin(19).states[-1][1] is True


def test_button_cycles_pages_and_long_press_toggles_night_mode():
    clock = Clock()
    toggles = []
    panel, board, factory = make_panel(clock, on_night_toggle=lambda: toggles.append(1))
    button = factory.pin(21)
    assert panel.current_page() == "queue"
    for page in ("today", "lines", "network", "queue"):
        button.drive_low(at=clock.t)
        button.drive_high(at=clock.t + 0.2)
        assert panel.current_page() == page
    button.drive_low(at=clock.t)
    button.drive_high(at=clock.t + 3)
    assert toggles == [1] and panel.current_page() == "queue"


def test_very_long_press_resets_only_at_boot_and_confirms_by_blinking():
    clock = Clock()
    resets = []
    panel, board, factory = make_panel(clock, on_recovery=lambda: resets.append(clock.t))
    button = factory.pin(21)
    button.drive_low(at=clock.t + 1)
    clock.t += 12
    button.drive_high(at=clock.t)
    assert len(resets) == 1
    panel.refresh()
    assert set(board.modes().values()) == {LedMode.FAST}   # the confirmation blink
    clock.t += 100
    button.drive_low(at=clock.t)
    clock.t += 12
    button.drive_high(at=clock.t)
    assert len(resets) == 1                                  # not at boot any more


def test_pages_render_at_the_oled_size_in_both_languages():
    state = PanelState(waiting=3, agents_free=1)
    en = render_page("queue", state, "en")
    zh = render_page("queue", state, "zh_CN")
    assert en.size == zh.size == (WIDTH, HEIGHT) and en.mode == "1"
    assert en.tobytes() != zh.tobytes()
    assert render_page("queue", PanelState(waiting=4), "en").tobytes() != en.tobytes()


def test_the_glass_shows_the_page_through_the_real_drivers():
    from firmware.hw.display import CharDisplay, OledDisplay
    from firmware.hw.fakes_i2c import FakeSMBus, HD44780Glass, SSD1306Glass

    bus = FakeSMBus()
    glass = SSD1306Glass()
    bus.attach(0x3C, glass)
    oled = OledDisplay(bus=bus)
    oled.start()
    clock = Clock()
    state = PanelState(waiting=2, agents_free=1, answered=5)
    panel = FrontPanel(display=oled, clock=clock)
    panel.update(state)
    panel.refresh()
    assert glass.image().tobytes() == render_page("queue", state, "en").convert("1").tobytes()
    panel.on_press("short", 0.2)
    panel.refresh()
    assert glass.image().tobytes() == render_page("today", state, "en").convert("1").tobytes()

    bus2 = FakeSMBus()
    lcd_glass = HD44780Glass(cols=16, rows=2)
    bus2.attach(0x27, lcd_glass)
    lcd = CharDisplay(bus=bus2, cols=16, rows=2)
    lcd.start()
    panel2 = FrontPanel(display=lcd, language="zh_CN", clock=clock)  # the LCD falls back to English
    panel2.update(state)
    panel2.refresh()
    assert lcd_glass.lines() == ["Queue           ", "Waiting 2       "]


def test_a_broken_display_is_reported_once_and_the_leds_go_on():
    from firmware.hw.display import OledDisplay
    from firmware.hw.fakes_i2c import FakeSMBus, SSD1306Glass

    bus = FakeSMBus()
    bus.attach(0x3C, SSD1306Glass())
    oled = OledDisplay(bus=bus)
    oled.start()
    clock = Clock()
    panel, board, factory = make_panel(clock)
    panel.display = oled
    bus.fail_with = OSError(121, "Remote I/O error")   # the display fell off the bus
    panel.update(PanelState(waiting=1))
    panel.refresh()
    assert panel.display_failed
    panel.update(PanelState(waiting=0, agents_free=1))
    panel.refresh()
    assert board.modes()["agents"] is LedMode.ON


def test_the_box_builds_the_panel_it_is_configured_with():
    from firmware.panel.build import build_panel

    lcd = build_panel(simulated=True, language="zh_CN", on_night_toggle=None, on_recovery=None,
                      pins={"agents": 12, "waiting": 16, "button": 20}, display_kind="lcd20x4")
    assert set(lcd.leds.leds) == {"agents", "waiting"} and lcd.button is not None
    lcd.update(PanelState(waiting=3))
    lcd.refresh()
    assert lcd.display._given_bus.glass.lines()[1].startswith("Waiting 3")   # English on the LCD
    lcd.leds.step()
    assert lcd.pins.pin(16).states[-1][1] is True
    bare = build_panel(simulated=True, language="en", on_night_toggle=None, on_recovery=None,
                       pins={}, display_kind="none")
    assert bare.leds is None and bare.display is None and bare.button is None
    bare.refresh()   # nothing to drive, nothing breaks
