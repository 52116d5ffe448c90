"""The front panel controller: LEDs, button and display following the core.

The core calls :meth:`FrontPanel.update` with a fresh :class:`PanelState`
when something changed; the panel's own thread then sets the LEDs and
redraws the display, and otherwise sleeps. A broken or missing display is
reported once and left alone: a panel failure never reaches the calls.

Threads: ``update`` and ``on_press`` may be called from any thread (the
core's owner thread, RPi.GPIO's callback thread); they only store and wake.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from firmware.hw.leds import LedBoard, LedMode
from firmware.panel.indicators import PanelState, led_modes
from firmware.panel.pages import PAGES, page_lines
from firmware.panel.render import render_page

log = logging.getLogger(__name__)

BOOT_WINDOW_S = 30.0        # a very long press must start this soon after boot
CONFIRM_BLINK_S = 3.0


class FrontPanel:
    """
    :param leds: the LED board (or None when the box has no LEDs).
    :param display: an ``OledDisplay`` (has ``show(image)``) or a
        ``CharDisplay`` (has ``show_lines(lines)``), or None.
    :param on_night_toggle: called for a long press.
    :param on_recovery: called for a very long press at boot.
    """

    def __init__(self, *, leds: LedBoard | None = None, display=None, language: str = "en",
                 on_night_toggle: Callable[[], None] | None = None,
                 on_recovery: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.leds = leds
        self.display = display
        self.language = language
        self.on_night_toggle = on_night_toggle
        self.on_recovery = on_recovery
        self.clock = clock
        self.state = PanelState()
        self.page = 0
        self.started_at = clock()
        self.display_failed = False
        self._confirm_until = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- inputs ----------------------------------------------------------------
    def update(self, state: PanelState) -> None:
        with self._lock:
            changed = state != self.state
            self.state = state
        if changed:
            self._wake.set()

    def on_press(self, kind: str, held_s: float) -> None:
        if kind == "short":
            with self._lock:
                self.page = (self.page + 1) % len(PAGES)
        elif kind == "long" and self.on_night_toggle:
            self.on_night_toggle()
        elif kind == "very-long":
            pressed_at = self.clock() - held_s
            if pressed_at - self.started_at <= BOOT_WINDOW_S and self.on_recovery:
                log.warning("very long press at boot: resetting the admin password")
                self._confirm_until = self.clock() + CONFIRM_BLINK_S
                self.on_recovery()
            else:
                log.info("very long press ignored: only at boot")
        self._wake.set()

    # -- output ----------------------------------------------------------------
    def current_page(self) -> str:
        return PAGES[self.page]

    def image(self):
        """The current page as the OLED shows it (for the web page)."""
        with self._lock:
            return render_page(self.current_page(), self.state, self.language)

    def refresh(self) -> None:
        with self._lock:
            state, page = self.state, self.current_page()
        if self.leds is not None:
            confirming = self.clock() < self._confirm_until
            for name, mode in led_modes(state).items():
                self.leds.set(name, LedMode.FAST if confirming else mode)
        if self.display is None or self.display_failed:
            return
        try:
            if hasattr(self.display, "show"):
                self.display.show(render_page(page, state, self.language))
            else:
                self.display.show_lines(page_lines(page, state, "en"))  # HD44780: no CJK glyphs
        except Exception as exc:  # any display fault: report once, keep the box running
            self.display_failed = True
            log.error("display failed, panel goes on without it: %s", exc)

    def start(self) -> None:
        if self.leds is not None:
            self.leds.start()
        self._thread = threading.Thread(target=self._run, name="panel", daemon=True)
        self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=CONFIRM_BLINK_S if self.clock() < self._confirm_until else None)
            self._wake.clear()
            if not self._stop.is_set():
                self.refresh()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self.leds is not None:
            self.leds.close()
        if self.display is not None:
            try:
                self.display.close()
            except Exception:  # closing a dead display must not stop shutdown
                log.debug("display close failed", exc_info=True)
