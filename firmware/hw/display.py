"""The front-panel displays: an SSD1306 OLED and an HD44780 character LCD.

Owns :class:`OledDisplay` and :class:`CharDisplay`, device classes in the
style of gpiozero: named after the part, backend (the I2C bus) injected
keyword-only, nothing opened before :meth:`start`, :meth:`close` safe
twice, usable as context managers. The protocol work is done by the real
drivers -- luma.oled for the OLED, RPLCD for the LCD -- over whatever
:func:`firmware.hw.i2c.open_bus` returns, so tests run those same drivers
over :class:`firmware.hw.fakes_i2c.FakeSMBus` and decode the result.

Every failure of a display (missing, unplugged, bus not enabled) is raised
as :class:`DisplayError`, so the caller can log "display missing" and keep
the telephone system running without a panel.

Wiring (both on I2C-1, they may share it):

* SDA -> GPIO2 (pin 3), SCL -> GPIO3 (pin 5), VCC -> 3.3 V (pin 1),
  GND -> pin 6.
* SSD1306 module: address 0x3C, or 0x3D with the address jumper / resistor
  on the back moved (SA0 high).
* PCF8574 LCD backpack: address 0x27 (PCF8574A: 0x3F) with A0-A2 open;
  bridging A0/A1/A2 clears bits 0/1/2. The LCD itself wants 5 V on VCC: then
  remove the backpack's pull-ups to 5 V or add a level shifter, never let
  5 V reach GPIO2/GPIO3.

Must not touch: GPIO pins, the bus choice (``firmware.hw.i2c``), what is
shown (screens are composed elsewhere and handed in as images or lines),
``firmware.errors``. Never imports ``smbus2``; luma and RPLCD are imported
in :meth:`start` only.

Thread ownership: any thread may call a display; each instance holds one
lock for the whole of start, show and close, so frames never interleave.
"""
from __future__ import annotations

import functools
import logging
import threading

from PIL import Image, ImageOps

from firmware.errors import SmallPbxError
from firmware.hw import i2c

log = logging.getLogger(__name__)


class DisplayError(SmallPbxError, OSError):
    """A display could not be reached or refused what it was sent.

    :param message: what went wrong, naming the display and its address.
    :param address: the display's I2C address.
    :param errno: the ``errno`` of the underlying :class:`OSError`, if any.
    """

    def __init__(self, message: str, *, address: int | None = None, errno: int | None = None):
        super().__init__(message)
        self.address = address
        self.errno = errno


def _display_error(what: str, address: int, port: int, exc: BaseException) -> DisplayError:
    detail = str(exc) or type(exc).__name__
    return DisplayError(f"{what} at I2C 0x{address:02X} on bus {port}: {detail}",
                        address=address, errno=getattr(exc, "errno", None))


class _I2CDisplay:
    """Lifecycle shared by both displays: bus ownership, lock, close twice."""

    _what = "display"

    def __init__(self, *, address: int, bus, port: int):
        self.address = address
        self.port = port
        self._given_bus = bus
        self._bus = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`close` has not run."""
        return self._bus is not None

    def start(self):
        """Open the bus (unless one was given) and initialise the display.

        Calling it again while started does nothing. Returns ``self``.

        :raises DisplayError: the bus or the display is missing or failed.
        """
        with self._lock:
            if self._bus is not None:
                return self
            bus = self._given_bus
            if bus is None:
                try:
                    bus = i2c.open_bus(self.port)
                except i2c.BusError as e:
                    raise _display_error(self._what, self.address, self.port, e) from e
            try:
                self._open_driver(bus)
            except BaseException:
                if bus is not self._given_bus:
                    bus.close()
                raise
            self._bus = bus
            log.info("%s started at I2C 0x%02X on bus %d", self._what, self.address, self.port)
            return self

    def close(self) -> None:
        """Blank the display and release the bus (if this object opened it).

        Safe to call twice; a display that fails while closing is logged,
        not raised.
        """
        with self._lock:
            bus, self._bus = self._bus, None
            if bus is None:
                return
            try:
                self._close_driver()
            except DisplayError as e:
                log.warning("%s", e)
            finally:
                if bus is not self._given_bus:
                    bus.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.close()

    def _require_started(self) -> None:
        if self._bus is None:
            raise DisplayError(f"{self._what} at I2C 0x{self.address:02X} is not started",
                               address=self.address)

    def _error(self, exc: BaseException) -> DisplayError:
        return _display_error(self._what, self.address, self.port, exc)

    def _open_driver(self, bus) -> None:
        raise NotImplementedError

    def _close_driver(self) -> None:
        raise NotImplementedError


class OledDisplay(_I2CDisplay):
    """A monochrome SSD1306 OLED module on I2C (0.96" 128x64 or 0.91" 128x32).

    Wiring: SDA -> GPIO2, SCL -> GPIO3, VCC -> 3.3 V, GND; address 0x3C
    (0x3D with SA0 high).

    :param address: the module's I2C address.
    :param width: pixels across (128, 96 or 64).
    :param height: pixels down (64, 32, 48 or 16; luma.oled decides what
        goes with which width).
    :param bus: an already open SMBus-like object to use and not close;
        by default :meth:`start` opens bus ``port`` with
        :func:`firmware.hw.i2c.open_bus` and :meth:`close` closes it.
    :param port: the I2C bus number when ``bus`` is not given.
    """

    _what = "OLED display"

    def __init__(self, *, address: int = 0x3C, width: int = 128, height: int = 64, bus=None, port: int = 1):
        super().__init__(address=address, bus=bus, port=port)
        self.width = width
        self.height = height
        self._device = None
        self._driver_errors: tuple[type[BaseException], ...] = (OSError,)

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def _open_driver(self, bus) -> None:
        try:
            import luma.core.error
            from luma.core.interface.serial import i2c as luma_i2c
            from luma.oled.device import ssd1306
        except ImportError as e:
            raise self._error(e) from e
        self._driver_errors = (OSError, luma.core.error.Error)
        try:
            serial = luma_i2c(bus=bus, address=self.address)
            # Sends the init sequence, clears the screen, switches it on.
            self._device = ssd1306(serial, width=self.width, height=self.height)
        except self._driver_errors as e:
            raise self._error(e) from e

    def _close_driver(self) -> None:
        device, self._device = self._device, None
        try:
            # Switches the display off and clears it (luma's ``persist`` is
            # False); with a bus passed in, luma leaves the bus open.
            device.cleanup()
        except self._driver_errors as e:
            raise self._error(e) from e

    def _call(self, action) -> None:
        with self._lock:
            self._require_started()
            try:
                action(self._device)
            except self._driver_errors as e:
                raise self._error(e) from e

    def fit(self, image: Image.Image) -> Image.Image:
        """``image`` as the glass will show it: mode ``"1"`` at the display size.

        Colour and grey images are thresholded at half brightness (no
        dithering, which would fray text); an image of another size is
        scaled down, keeping its aspect ratio, to fit (never scaled up) and
        placed at the top left of a black canvas.
        """
        if image.mode == "1" and image.size == self.size:
            return image
        grey = image.convert("L")
        if grey.width > self.width or grey.height > self.height:
            grey = ImageOps.contain(grey, self.size, Image.Resampling.LANCZOS)
        if grey.size != self.size:
            canvas = Image.new("L", self.size)
            canvas.paste(grey, (0, 0))
            grey = canvas
        return grey.point(lambda p: 255 if p >= 128 else 0).convert("1", dither=Image.Dither.NONE)

    def show(self, image: Image.Image) -> None:
        """Display ``image`` (any mode, any size; see :meth:`fit`).

        :raises DisplayError: not started, or the display stopped answering.
        """
        frame = self.fit(image)
        self._call(lambda device: device.display(frame))

    def on(self) -> None:
        """Wake the display (it keeps the last frame)."""
        self._call(lambda device: device.show())

    def off(self) -> None:
        """Put the display to sleep (dark, frame kept, about 10 uA)."""
        self._call(lambda device: device.hide())

    def contrast(self, level: int) -> None:
        """Set the brightness, 0-255.

        :raises ValueError: ``level`` is out of range.
        """
        if not 0 <= level <= 255:
            raise ValueError(f"contrast must be 0-255, not {level}")
        self._call(lambda device: device.contrast(level))


@functools.cache
def _char_lcd_on_bus():
    """RPLCD's ``CharLCD`` taught to use a bus it is given.

    ``CharLCD.__init__`` calls ``self._init_connection()``, which does
    ``self.bus = SMBus(self._port)``, and then at once sends the HD44780
    initialisation over ``self.bus``. Replacing ``bus`` after construction
    is therefore too late (a real SMBus would be opened first, and fail on
    a PC), so this subclass overrides ``_init_connection`` -- the hook
    RPLCD's own back ends (i2c, gpio, pigpio) implement -- to install the
    injected bus instead, keeping RPLCD's 50 ms PCF8574 power-up wait.
    Everything else, the 4-bit init dance included, is RPLCD's code.
    (Checked against RPLCD 1.3 and 1.4.)
    """
    from RPLCD import common
    from RPLCD.i2c import CharLCD

    class CharLCDOnBus(CharLCD):
        def __init__(self, bus, *args, **kwargs):
            self._injected_bus = bus
            super().__init__(*args, **kwargs)

        def _init_connection(self):
            self.bus = self._injected_bus
            common.msleep(50)

    return CharLCDOnBus


#: Characters the HD44780 character ROMs lack within printable ASCII.
_ROM_MISSING = {"A00": "\\~", "A02": ""}


class CharDisplay(_I2CDisplay):
    """An HD44780 character LCD (16x2 or 20x4) with a PCF8574 I2C backpack.

    Wiring: SDA -> GPIO2, SCL -> GPIO3, GND; VCC 5 V for the LCD only with
    the backpack's pull-ups removed or a level shifter (see the module
    notes). Address 0x27 (PCF8574A: 0x3F), set by jumpers A0-A2.

    :param address: the backpack's I2C address.
    :param cols: characters per row.
    :param rows: rows.
    :param bus: an already open SMBus-like object to use and not close;
        by default :meth:`start` opens bus ``port`` and :meth:`close`
        closes it.
    :param port: the I2C bus number when ``bus`` is not given.
    :param charmap: the LCD's character ROM, ``"A00"`` (most modules) or
        ``"A02"``.
    """

    _what = "character LCD"

    def __init__(self, *, address: int = 0x27, cols: int = 16, rows: int = 2, bus=None, port: int = 1,
                 charmap: str = "A00"):
        if charmap not in _ROM_MISSING:
            raise ValueError(f"charmap must be one of {', '.join(_ROM_MISSING)}, not {charmap!r}")
        super().__init__(address=address, bus=bus, port=port)
        self.cols = cols
        self.rows = rows
        self.charmap = charmap
        self._lcd = None

    def _open_driver(self, bus) -> None:
        try:
            lcd_class = _char_lcd_on_bus()
        except ImportError as e:
            raise self._error(e) from e
        try:
            self._lcd = lcd_class(bus, "PCF8574", self.address, port=self.port, cols=self.cols,
                                  rows=self.rows, charmap=self.charmap, auto_linebreaks=False)
        except OSError as e:
            raise self._error(e) from e

    def _close_driver(self) -> None:
        lcd, self._lcd = self._lcd, None
        try:
            lcd.close(clear=True)
            lcd.backlight_enabled = False
        except OSError as e:
            raise self._error(e) from e

    def _call(self, action) -> None:
        with self._lock:
            self._require_started()
            try:
                action(self._lcd)
            except OSError as e:
                raise self._error(e) from e

    def fit(self, text: str) -> str:
        """``text`` as one row: padded or cut to ``cols``; characters the LCD
        cannot show (anything outside printable ASCII, and on the A00 ROM
        ``\\`` and ``~``) become ``?``."""
        missing = _ROM_MISSING[self.charmap]
        row = "".join(c if " " <= c <= "~" and c not in missing else "?" for c in text[:self.cols])
        return row.ljust(self.cols)

    def show_lines(self, lines: list[str]) -> None:
        """Show ``lines``, one per row from the top; missing rows are blanked,
        extra ones dropped. Only characters that changed are sent.

        :raises DisplayError: not started, or the display stopped answering.
        """
        rows = [self.fit(line) for line in list(lines)[:self.rows]]
        rows += [" " * self.cols] * (self.rows - len(rows))

        def write(lcd):
            for number, row in enumerate(rows):
                lcd.cursor_pos = (number, 0)
                lcd.write_string(row)

        self._call(write)

    def clear(self) -> None:
        """Blank the display (and forget RPLCD's cache of what it shows)."""
        self._call(lambda lcd: lcd.clear())

    def backlight(self, on: bool) -> None:
        """Switch the backlight on or off."""
        self._call(lambda lcd: setattr(lcd, "backlight_enabled", bool(on)))
