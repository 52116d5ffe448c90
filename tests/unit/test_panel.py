"""LEDs, buttons and panel logic over the mock pin backend (time fed in)."""
import pytest

from firmware.hw.buttons import PageButton, classify
from firmware.hw.leds import LedBoard, LedMode, StatusLed, pattern_level
from firmware.hw.pins import MockFactory, PinError, pin_factory
from firmware.panel.indicators import PanelState, from_status, led_modes
from firmware.panel.pages import page_lines


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_patterns_are_distinct_and_give_the_next_edge():
    assert pattern_level(LedMode.ON, 5) == (True, None)
    assert pattern_level(LedMode.OFF, 5) == (False, None)
    assert pattern_level(LedMode.SLOW, 0.25) == (True, 0.75)
    assert pattern_level(LedMode.SLOW, 1.5) == (False, 0.5)
    level, wait = pattern_level(LedMode.FAST, 0.2)
    assert level is False and wait == pytest.approx(0.1)
    # DOUBLE: on, off, on, long off.
    assert [pattern_level(LedMode.DOUBLE, t)[0] for t in (0.05, 0.2, 0.35, 1.0)] == [True, False, True, False]


def test_board_writes_levels_to_the_pins_as_time_passes():
    factory, clock = MockFactory(), Clock()
    board = LedBoard([StatusLed("waiting", 17, factory=factory), StatusLed("fault", 27, factory=factory)], clock)
    board.set("waiting", LedMode.SLOW)
    assert board.step() == pytest.approx(1.0)
    clock.t += 1.0
    board.step()
    clock.t += 1.0
    board.step()
    assert [lvl for _, lvl in factory.pin(17).states] == [True, False, True]
    assert factory.pin(27).states == [(100.0, False)]
    board.set("waiting", LedMode.OFF)
    assert board.step() is None  # nothing blinks: the thread would sleep until a change


def test_button_presses_are_classified_by_how_long_they_were_held():
    factory, presses = MockFactory(), []
    PageButton(22, factory=factory, on_press=lambda kind, held: presses.append(kind))
    pin = factory.pin(22)
    for down, up in ((0, 0.2), (10, 13), (20, 31), (40, 40.01), (50, 51.5)):
        pin.drive_low(at=down)
        pin.drive_high(at=up)
    assert presses == ["short", "long", "very-long"]
    assert classify(0.5) == "short" and classify(1.5) is None and classify(9) is None


def test_mock_pins_refuse_what_a_pi_would_refuse():
    factory = MockFactory()
    with pytest.raises(PinError):
        factory.pin(40)
    pin = factory.pin(5)
    with pytest.raises(PinError):
        pin.write(True)  # not set up as an output
    with pytest.raises(PinError):
        pin_factory("wiringpi")


def test_rpigpio_backend_says_why_it_cannot_run_here():
    with pytest.raises(PinError, match="RPi.GPIO"):
        pin_factory("rpigpio")


def state(**kw):
    return PanelState(**kw)


@pytest.mark.parametrize("situation,expected", [
    (state(), {"agents": LedMode.OFF, "waiting": LedMode.OFF, "fault": LedMode.OFF, "line1": LedMode.OFF}),
    (state(agents_free=2), {"agents": LedMode.ON, "waiting": LedMode.OFF}),
    (state(agents_busy=2, waiting=3, longest_wait_s=9), {"agents": LedMode.SLOW, "waiting": LedMode.ON}),
    (state(agents_busy=1, waiting=1, longest_wait_s=16, sl_threshold_s=15), {"waiting": LedMode.FAST}),
    (state(lines=(("gsm1", "up"), ("fxo1", "down")), faults=("fxo1 down",)),
     {"line1": LedMode.ON, "line2": LedMode.DOUBLE, "fault": LedMode.DOUBLE}),
    (state(lines=(("gsm1", "ringing"),)), {"line1": LedMode.FAST, "line2": LedMode.OFF}),
    (state(lines=(("gsm1", "in-call"),)), {"line1": LedMode.SLOW}),
])
def test_led_meaning_for_each_queue_situation(situation, expected):
    modes = led_modes(situation)
    for name, mode in expected.items():
        assert modes[name] is mode, name


STATUS = {
    "proxy": "kamailio 5.6.3",
    "callcenter": {
        "agents": [{"state": "available"}, {"state": "on-call"}, {"state": "paused"}],
        "queues": [{"waiting": 2, "longest_wait_s": 21.0}, {"waiting": 1, "longest_wait_s": 4.0}],
        "today": [{"offered": 10, "answered": 8, "abandoned": 2, "service_level": 0.75,
                   "service_level_threshold_s": 15}],
    },
}


def test_state_from_status_and_the_pages():
    s = from_status(STATUS, address="192.168.1.20")
    assert (s.agents_free, s.agents_busy, s.waiting, s.longest_wait_s) == (1, 1, 3, 21.0)
    assert s.service_level == pytest.approx(0.75) and s.faults == ()
    assert led_modes(s)["waiting"] is LedMode.FAST
    assert page_lines("queue", s) == ["Queue", "Waiting 3", "Longest 21s", "Free 1 Busy 1"]
    assert page_lines("today", s) == ["Today", "Answered 8", "Abandoned 2", "SL 75%"]
    assert page_lines("network", s) == ["Setup", "192.168.1.20", "http://192.168.1.20/"]
    assert page_lines("lines", s) == ["Lines", "No line yet"]
    assert page_lines("queue", s, "zh_CN")[1] == "等待 3"
    assert all(len(line) <= 20 for page in ("queue", "today", "lines", "network") for line in page_lines(page, s))
    down = from_status({**STATUS, "proxy": "unreachable: no socket"})
    assert down.faults == ("SIP proxy down",) and led_modes(down)["fault"] is LedMode.DOUBLE
