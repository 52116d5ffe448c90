"""The fake I2C backend, and "glass": models of what the displays do with
the bytes they receive.

Owns :class:`FakeSMBus` (the ``smbus2.SMBus`` methods luma.core's ``i2c``
interface and RPLCD's PCF8574 path call) and two glass models that decode
the wire traffic back into what a person would see:

* :class:`SSD1306Glass`: an SSD1306 OLED controller on I2C.
* :class:`HD44780Glass`: an HD44780 character LCD behind a PCF8574 backpack.

Tests run the real driver code over :class:`FakeSMBus` with a glass
attached and compare the glass to what was meant (gpiozero's ``MockPin``
records states the same way, so tests assert on history, never sleep).

Must not touch: real hardware, ``smbus2`` (``i2c_msg`` is duck-typed), the
display classes. Thread ownership: :class:`FakeSMBus` serializes
transactions with one lock, held while a glass decodes a transaction; the
glass objects themselves are only called under that lock.
"""
from __future__ import annotations

import errno
import threading

from PIL import Image

#: ``i2c_msg.flags`` bit of a read message (``I2C_M_RD`` in ``linux/i2c.h``).
I2C_M_RD = 0x0001
#: The most data bytes an SMBus block transfer carries.
I2C_SMBUS_BLOCK_MAX = 32


class FakeSMBus:
    """A stand-in for ``smbus2.SMBus`` that records every write.

    Each write transaction is recorded in :attr:`writes` as
    ``(address, bytes)``, the bytes being what follows the address byte on
    the wire (for ``write_i2c_block_data`` the register byte comes first).
    Writes to an address with an attached glass are handed to its
    ``receive(bytes)``. Reads return zeros.

    :param port: the bus number, kept for messages only.
    :param nack_unattached: when true, a transaction to an address without
        a glass fails as on a real bus with nothing there
        (``OSError(EREMOTEIO)``); by default it is only recorded.

    Set :attr:`fail_with` to an exception to make every transaction raise
    it (a display pulled off the bus, a shorted SDA line); set it back to
    ``None`` to heal the bus.
    """

    def __init__(self, port: int = 1, *, nack_unattached: bool = False):
        self.port = port
        self.nack_unattached = nack_unattached
        self.writes: list[tuple[int, bytes]] = []
        self.fail_with: BaseException | None = None
        self.closed = False
        self._glasses: dict[int, object] = {}
        self._lock = threading.Lock()

    # -- test helpers ------------------------------------------------------

    def attach(self, address: int, glass) -> None:
        """Connect ``glass`` (anything with ``receive(bytes)``) at ``address``."""
        self._glasses[address] = glass

    def detach(self, address: int) -> None:
        """Unplug whatever is at ``address``."""
        self._glasses.pop(address, None)

    def writes_to(self, address: int) -> list[bytes]:
        """The recorded write transactions to ``address``, oldest first."""
        return [data for addr, data in self.writes if addr == address]

    # -- the smbus2.SMBus interface ----------------------------------------

    def write_quick(self, i2c_addr: int, force=None) -> None:
        self._transfer(i2c_addr, b"")

    def write_byte(self, i2c_addr: int, value: int, force=None) -> None:
        self._transfer(i2c_addr, bytes([value]))

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        self._transfer(i2c_addr, bytes([register, value]))

    def write_word_data(self, i2c_addr: int, register: int, value: int, force=None) -> None:
        self._transfer(i2c_addr, bytes([register, value & 0xFF, (value >> 8) & 0xFF]))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data, force=None) -> None:
        if len(data) > I2C_SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {I2C_SMBUS_BLOCK_MAX} bytes")
        self._transfer(i2c_addr, bytes([register, *data]))

    def read_byte(self, i2c_addr: int, force=None) -> int:
        self._transfer(i2c_addr, None)
        return 0

    def read_byte_data(self, i2c_addr: int, register: int, force=None) -> int:
        self._transfer(i2c_addr, bytes([register]))
        return 0

    def i2c_rdwr(self, *i2c_msgs) -> None:
        """Combined transactions of ``smbus2.i2c_msg``; write messages are
        recorded one by one, read buffers are left as allocated (zeros)."""
        for msg in i2c_msgs:
            self._transfer(msg.addr, None if msg.flags & I2C_M_RD else bytes(msg))

    def close(self) -> None:
        """Close the bus; safe to call again."""
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- internals ---------------------------------------------------------

    def _transfer(self, address: int, data: bytes | None) -> None:
        """One transaction: fail, record (writes) and route to the glass."""
        with self._lock:
            if self.closed:
                raise OSError(errno.EBADF, f"I2C bus {self.port} is closed")
            if self.fail_with is not None:
                raise self.fail_with
            glass = self._glasses.get(address)
            if glass is None and self.nack_unattached:
                raise OSError(errno.EREMOTEIO, f"Remote I/O error (nothing at 0x{address:02X})")
            if data is None:
                return
            self.writes.append((address, data))
            if glass is not None:
                glass.receive(data)


# -- SSD1306 ---------------------------------------------------------------

#: Argument bytes after each SSD1306 command that takes any (datasheet rev
#: 1.1 section 9, plus the SSD1306B fade 0x23 and zoom 0xD6). Everything
#: else (0x00-0x1F column nibbles, 0x40-0x7F start line, 0xA0-0xA7, 0xAE/0xAF,
#: 0xB0-0xB7 page, 0xC0/0xC8, 0x2E/0x2F, 0xE3 NOP) takes none.
SSD1306_ARGS = {
    0x20: 1,  # memory addressing mode
    0x21: 2,  # column address start, end
    0x22: 2,  # page address start, end
    0x23: 1,  # fade out / blink
    0x26: 6, 0x27: 6,  # horizontal scroll setup
    0x29: 5, 0x2A: 5,  # vertical and horizontal scroll setup
    0x81: 1,  # contrast
    0x8D: 1,  # charge pump
    0xA3: 2,  # vertical scroll area
    0xA8: 1,  # multiplex ratio
    0xD3: 1,  # display offset
    0xD5: 1,  # clock divide / oscillator
    0xD6: 1,  # zoom in
    0xD9: 1,  # pre-charge period
    0xDA: 1,  # COM pins configuration
    0xDB: 1,  # VCOMH deselect level
}
_HORIZONTAL, _VERTICAL, _PAGE = 0, 1, 2
_RAM_COLUMNS, _RAM_PAGES = 128, 8


class SSD1306Glass:
    """What an SSD1306 OLED shows, decoded from its I2C byte stream.

    Every transaction starts with a control byte: ``0x00`` (the rest are
    commands), ``0x40`` (the rest are GDDRAM data), or with the Co bit
    ``0x80`` set, one byte follows before the next control byte. Commands
    are parsed with their argument counts (:data:`SSD1306_ARGS`), and
    argument bytes may continue in the next transaction as on the chip.

    GDDRAM is 128 columns by 8 pages; each data byte is 8 vertical pixels
    of one page column, least significant bit on top. Horizontal, vertical
    and page addressing modes are modelled; in the first two the pointer
    advances and wraps within the window set by 0x21 / 0x22.

    Orientation is that of the common modules, where segment remap on
    (0xA1) and COM scan remapped (0xC8) -- what luma.oled sends -- is
    upright; 0xA0 mirrors left-right and 0xC0 upside down. Start line
    (0x40-0x7F) and display offset (0xD3) scroll vertically; 0xA7
    inverts, 0xA5 lights every pixel.

    :param width: visible columns (128, 96 or 64).
    :param height: visible rows (64, 32, 48 or 16).
    :param column_offset: the first GDDRAM column wired to the glass
        (32 on 64-pixel-wide modules, which luma.oled knows as ``colstart``).
    """

    def __init__(self, width: int = 128, height: int = 64, *, column_offset: int | None = None):
        self.width = width
        self.height = height
        self.column_offset = (32 if width == 64 else 0) if column_offset is None else column_offset
        self.ram = bytearray(_RAM_COLUMNS * _RAM_PAGES)
        self.is_on = False  # the chip resets with the display off (0xAE)
        self.contrast = 0x7F
        self.inverted = False
        self.all_on = False
        self.segment_remap = False
        self.com_remap = False
        self.start_line = 0
        self.display_offset = 0
        self.addressing_mode = _PAGE  # reset default
        self.columns = (0, _RAM_COLUMNS - 1)
        self.pages = (0, _RAM_PAGES - 1)
        self.column = 0
        self.page = 0
        self.commands: list[tuple[int, ...]] = []  # every command, with its arguments
        self._pending: list[int] = []  # a command still waiting for arguments

    # -- the wire ----------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Decode one I2C write transaction (the bytes after the address)."""
        i = 0
        while i < len(data):
            control = data[i]
            i += 1
            is_data = bool(control & 0x40)
            if control & 0x80:  # Co = 1: a single byte, then a new control byte
                if i < len(data):
                    self._byte(data[i], is_data)
                i += 1
                continue
            for byte in data[i:]:
                self._byte(byte, is_data)
            return

    def _byte(self, byte: int, is_data: bool) -> None:
        if is_data:
            self._write_ram(byte)
            return
        if self._pending:
            self._pending.append(byte)
        else:
            self._pending = [byte]
        if len(self._pending) > SSD1306_ARGS.get(self._pending[0], 0):
            command, self._pending = tuple(self._pending), []
            self.commands.append(command)
            self._execute(*command)

    def _execute(self, op: int, *args: int) -> None:
        if op in (0xAE, 0xAF):
            self.is_on = op == 0xAF
        elif op == 0x81:
            self.contrast = args[0]
        elif op in (0xA6, 0xA7):
            self.inverted = op == 0xA7
        elif op in (0xA4, 0xA5):
            self.all_on = op == 0xA5
        elif op in (0xA0, 0xA1):
            self.segment_remap = op == 0xA1
        elif op in (0xC0, 0xC8):
            self.com_remap = op == 0xC8
        elif 0x40 <= op <= 0x7F:
            self.start_line = op & 0x3F
        elif op == 0xD3:
            self.display_offset = args[0] & 0x3F
        elif op == 0x20:
            self.addressing_mode = args[0] & 0x03
        elif op == 0x21:
            self.columns = (args[0] & 0x7F, args[1] & 0x7F)
            self.column = self.columns[0]
        elif op == 0x22:
            self.pages = (args[0] & 0x07, args[1] & 0x07)
            self.page = self.pages[0]
        elif 0xB0 <= op <= 0xB7:
            self.page = op & 0x07
        elif op <= 0x0F:
            self.column = (self.column & 0xF0) | op
        elif op <= 0x1F:
            self.column = (self.column & 0x0F) | ((op & 0x07) << 4)
        # everything else (clock, multiplex, charge pump, scrolling...) only
        # changes analogue or timing behaviour this model does not show

    def _write_ram(self, byte: int) -> None:
        self.ram[self.page * _RAM_COLUMNS + self.column] = byte
        (c0, c1), (p0, p1) = self.columns, self.pages
        if self.addressing_mode == _HORIZONTAL:
            if self.column >= c1:
                self.column = c0
                self.page = p0 if self.page >= p1 else self.page + 1
            else:
                self.column += 1
        elif self.addressing_mode == _VERTICAL:
            if self.page >= p1:
                self.page = p0
                self.column = c0 if self.column >= c1 else self.column + 1
            else:
                self.page += 1
        else:  # page mode: the column wraps, the page stays
            self.column = (self.column + 1) % _RAM_COLUMNS

    # -- what a person sees ------------------------------------------------

    def pixel(self, x: int, y: int) -> bool:
        """Whether the pixel at (x, y) of the visible area is lit."""
        if not self.is_on:
            return False
        if self.all_on:
            return True
        column = self.column_offset + (x if self.segment_remap else self.width - 1 - x)
        row = y if self.com_remap else self.height - 1 - y
        row = (row + self.start_line + self.display_offset) % (_RAM_PAGES * 8)
        lit = bool(self.ram[(row // 8) * _RAM_COLUMNS + column] >> (row % 8) & 1)
        return lit != self.inverted

    def image(self) -> Image.Image:
        """The glass as a mode ``"1"`` image; all black while the display is off."""
        img = Image.new("1", (self.width, self.height))
        img.putdata([255 if self.pixel(x, y) else 0
                     for y in range(self.height) for x in range(self.width)])
        return img


# -- HD44780 behind a PCF8574 ------------------------------------------------

# PCF8574 port bits as RPLCD's CharLCD wires them (RPLCD/i2c.py, the common
# "LCM1602" backpack): P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 = D4-D7.
PCF8574_RS = 0x01
PCF8574_RW = 0x02
PCF8574_E = 0x04
PCF8574_BACKLIGHT = 0x08

#: Characters of the A00 (Japanese) ROM that differ from ASCII in 0x20-0x7F.
_A00_DIFFERENT = {0x5C: "\u00a5", 0x7E: "\u2192", 0x7F: "\u2190"}


class HD44780Glass:
    """What an HD44780 character LCD on a PCF8574 backpack shows.

    Each byte written to the PCF8574 sets its eight output pins. The LCD
    latches D4-D7 and RS on the falling edge of E (the value while E was
    high). It starts as after its internal power-on reset: 8-bit interface
    (each latch is a whole instruction, D0-D3 low), one line, display off,
    DDRAM blank. A function set with DL = 0 switches to 4-bit, after which
    two latches (high nibble first) make one byte. The PCF8574 itself
    powers up with every pin high.

    Instructions modelled: clear display, return home, entry mode (I/D, S),
    display control (D, C, B), cursor/display shift, function set (DL, N),
    set CGRAM address, set DDRAM address; data goes to DDRAM or CGRAM.
    In two-line mode DDRAM lines are 0x00-0x27 and 0x40-0x67; rows are
    shown from 0x00, 0x40, 0x00 + cols, 0x40 + cols (0x14 / 0x54 on a 20x4).

    :param cols: characters per row (16 or 20).
    :param rows: rows (1, 2 or 4).
    :param rom: character ROM, ``"A00"`` (Japanese, the common one: 0x5C is
        a yen sign) or ``"A02"`` (European: ASCII throughout 0x20-0x7F).
    """

    def __init__(self, cols: int = 16, rows: int = 2, *, rom: str = "A00"):
        self.cols = cols
        self.rows = rows
        self.rom = rom
        self.port = 0xFF  # PCF8574 outputs after power-on
        self.ddram = bytearray(b" " * 0x80)
        self.cgram = bytearray(64)
        self.address = 0  # the address counter
        self.to_cgram = False
        self.eight_bit = True
        self.two_line = False
        self.display_on = False
        self.cursor_on = False
        self.blink_on = False
        self.increment = True
        self.shift_on_write = False
        self.shift = 0  # display shift, positive = content moved left
        self.instructions: list[int] = []  # every instruction byte received
        self._high_nibble: int | None = None  # in 4-bit mode, first half of a byte

    @property
    def backlight(self) -> bool:
        """Whether the backpack's backlight pin (P3) is high."""
        return bool(self.port & PCF8574_BACKLIGHT)

    @property
    def is_on(self) -> bool:
        """Whether the display control instruction turned the display on."""
        return self.display_on

    # -- the wire ----------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Decode one I2C write transaction: each byte sets the PCF8574 pins."""
        for value in data:
            previous, self.port = self.port, value
            if previous & PCF8574_E and not value & PCF8574_E:
                self._latch(previous)

    def _latch(self, pins: int) -> None:
        if pins & PCF8574_RW:  # a read (busy flag / data): nothing written
            if not self.eight_bit:
                self._high_nibble = None if self._high_nibble is not None else 0
            return
        nibble = pins >> 4
        rs = bool(pins & PCF8574_RS)
        if self.eight_bit:
            self._byte(nibble << 4, rs)  # D0-D3 are not wired: low
        elif self._high_nibble is None:
            self._high_nibble = nibble
        else:
            byte, self._high_nibble = (self._high_nibble << 4) | nibble, None
            self._byte(byte, rs)

    def _byte(self, byte: int, rs: bool) -> None:
        if rs:
            self._write_data(byte)
        else:
            self.instructions.append(byte)
            self._instruction(byte)

    def _instruction(self, op: int) -> None:
        if op & 0x80:  # set DDRAM address
            self.address, self.to_cgram = op & 0x7F, False
        elif op & 0x40:  # set CGRAM address
            self.address, self.to_cgram = op & 0x3F, True
        elif op & 0x20:  # function set
            self.eight_bit = bool(op & 0x10)
            self.two_line = bool(op & 0x08)
            self._high_nibble = None
        elif op & 0x10:  # cursor or display shift
            right = bool(op & 0x04)
            if op & 0x08:
                self.shift += -1 if right else 1
            else:
                self._step(right)
        elif op & 0x08:  # display control
            self.display_on = bool(op & 0x04)
            self.cursor_on = bool(op & 0x02)
            self.blink_on = bool(op & 0x01)
        elif op & 0x04:  # entry mode set
            self.increment = bool(op & 0x02)
            self.shift_on_write = bool(op & 0x01)
        elif op & 0x02:  # return home
            self.address, self.to_cgram, self.shift = 0, False, 0
        elif op & 0x01:  # clear display
            self.ddram[:] = b" " * len(self.ddram)
            self.address, self.to_cgram, self.shift = 0, False, 0
            self.increment = True

    def _write_data(self, byte: int) -> None:
        if self.to_cgram:
            self.cgram[self.address] = byte
            self.address = (self.address + (1 if self.increment else -1)) % len(self.cgram)
            return
        self.ddram[self.address] = byte
        self._step(self.increment)
        if self.shift_on_write:
            self.shift += 1 if self.increment else -1

    def _step(self, forward: bool) -> None:
        """Move the DDRAM address counter as the chip does (line wrap)."""
        a = self.address
        if self.two_line:
            if forward:
                a = {0x27: 0x40, 0x67: 0x00}.get(a, (a + 1) & 0x7F)
            else:
                a = {0x00: 0x67, 0x40: 0x27}.get(a, (a - 1) & 0x7F)
        else:
            a = (a + (1 if forward else -1)) % 0x50
        self.address = a

    # -- what a person sees ------------------------------------------------

    def _char(self, code: int) -> str:
        if self.rom == "A00" and code in _A00_DIFFERENT:
            return _A00_DIFFERENT[code]
        return chr(code) if 0x20 <= code <= 0x7E else "\ufffd"

    def lines(self) -> list[str]:
        """The visible rows as strings (blank while the display is off).

        Codes outside printable ASCII (custom characters, katakana) are
        shown as U+FFFD.
        """
        blank = " " * self.cols
        if not self.display_on:
            return [blank] * self.rows
        shown = []
        for row in range(self.rows):
            if self.two_line:
                line_start, first = (0x00, 0x40)[row % 2], (row // 2) * self.cols
                length = 40
            elif row == 0:
                line_start, first, length = 0x00, 0, 80
            else:
                shown.append(blank)
                continue
            shown.append("".join(
                self._char(self.ddram[line_start + (first + x + self.shift) % length])
                for x in range(self.cols)))
        return shown
