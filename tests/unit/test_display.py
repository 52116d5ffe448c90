"""The front-panel displays: the real luma.oled and RPLCD drivers run over
FakeSMBus, and the glass models decode what would reach the screen."""
import errno

import pytest
import smbus2
from PIL import Image, ImageDraw

from firmware.errors import ConfigError, SmallPbxError
from firmware.hw import i2c
from firmware.hw.display import CharDisplay, DisplayError, OledDisplay
from firmware.hw.fakes_i2c import FakeSMBus, HD44780Glass, SSD1306Glass
from firmware.hw.platform import Platform


def panel(size=(128, 64)) -> Image.Image:
    """An asymmetric frame: any mirroring or page mix-up changes pixels."""
    img = Image.new("1", size)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=1)
    draw.text((3, 3), "Queue 3", fill=1)
    draw.rectangle((size[0] - 20, size[1] - 12, size[0] - 5, size[1] - 4), fill=1)
    return img


def oled_on_fake(width=128, height=64):
    bus = FakeSMBus()
    glass = SSD1306Glass(width, height)
    bus.attach(0x3C, glass)
    return OledDisplay(bus=bus, width=width, height=height), bus, glass


def lcd_on_fake(cols=16, rows=2):
    bus = FakeSMBus()
    glass = HD44780Glass(cols, rows)
    bus.attach(0x27, glass)
    return CharDisplay(bus=bus, cols=cols, rows=rows), bus, glass


# -- OLED -------------------------------------------------------------------

@pytest.mark.parametrize("size", [(128, 64), (128, 32), (64, 48)])
def test_the_oled_glass_shows_the_image_pixel_for_pixel(size):
    oled, bus, glass = oled_on_fake(*size)
    image = panel(size)
    assert image.getbbox() is not None  # something to see
    with oled:
        assert glass.is_on and glass.image().getbbox() is None  # luma clears on start
        oled.show(image)
        shown = glass.image()
        assert shown.mode == "1" and shown.size == size
        assert shown.tobytes() == image.tobytes()
        # each frame is 32-byte SMBus blocks of data after control byte 0x40
        frame = [data for data in bus.writes_to(0x3C) if data[0] == 0x40][-(size[0] * size[1] // 8 // 32):]
        assert all(len(data) == 33 for data in frame)
    assert not glass.is_on  # close() switches it off


def test_the_oled_goes_dark_when_off_and_comes_back_on():
    oled, _bus, glass = oled_on_fake()
    image = panel()
    with oled:
        oled.show(image)
        oled.off()
        assert glass.is_on is False
        assert glass.image().getbbox() is None
        oled.on()
        assert glass.is_on is True
        assert glass.image().tobytes() == image.tobytes()
        oled.contrast(0x10)
        assert glass.contrast == 0x10


def test_other_images_are_thresholded_and_scaled_to_fit():
    oled, _bus, glass = oled_on_fake()
    big = Image.new("RGB", (256, 128), "black")
    ImageDraw.Draw(big).rectangle((0, 0, 127, 127), fill=(200, 200, 200))  # left half light grey
    with oled:
        oled.show(big)
        shown = glass.image()
    assert shown.getpixel((10, 30)) == 255 and shown.getpixel((100, 30)) == 0
    assert shown.getbbox() == (0, 0, 64, 64)


def test_the_oled_init_sequence_is_what_luma_oled_sends():
    oled, bus, glass = oled_on_fake()
    with oled:
        first = bus.writes_to(0x3C)[0]
    assert first[:3] == bytes([0x00, 0xAE, 0xD5])  # command stream, display off first
    assert (0x8D, 0x14) in glass.commands  # charge pump on
    assert (0x20, 0x00) in glass.commands  # horizontal addressing
    assert (0x21, 0, 127) in glass.commands and (0x22, 0, 7) in glass.commands


def test_a_failing_bus_raises_display_error_on_start():
    bus = FakeSMBus()
    bus.attach(0x3C, SSD1306Glass())
    bus.fail_with = OSError(errno.EIO, "Input/output error")
    oled = OledDisplay(bus=bus)
    with pytest.raises(DisplayError, match="0x3C") as caught:
        oled.start()
    assert isinstance(caught.value, SmallPbxError) and isinstance(caught.value, OSError)
    assert not oled.started
    with pytest.raises(DisplayError, match="not started"):
        oled.show(panel())


def test_a_display_that_drops_off_raises_display_error_on_show_and_recovers(caplog):
    oled, bus, glass = oled_on_fake()
    with oled:
        bus.fail_with = OSError(errno.EREMOTEIO, "Remote I/O error")
        with pytest.raises(DisplayError) as caught:
            oled.show(panel())
        assert caught.value.address == 0x3C
        bus.fail_with = None
        oled.show(panel())
        assert glass.image().tobytes() == panel().tobytes()
        bus.fail_with = OSError(errno.EIO, "Input/output error")
    # close() on a dead display logs instead of raising
    assert "OLED display at I2C 0x3C" in caplog.text
    assert not oled.started


def test_nothing_at_the_address_is_display_missing():
    oled = OledDisplay(bus=FakeSMBus(nack_unattached=True))
    with pytest.raises(DisplayError, match="not found"):
        oled.start()


def test_a_missing_real_bus_is_display_missing(monkeypatch):
    monkeypatch.setenv(i2c.ENV_VAR, "smbus2")
    with pytest.raises(DisplayError, match="bus 99"):
        OledDisplay(port=99).start()
    with pytest.raises(i2c.BusError) as caught:
        i2c.open_bus(99)
    assert caught.value.errno == errno.ENOENT


# -- character LCD ------------------------------------------------------------

def test_char_lcd_rows_are_padded():
    lcd, _bus, glass = lcd_on_fake()
    with lcd:
        lcd.show_lines(["Waiting: 3", "SL 80%"])
        assert glass.lines() == ["Waiting: 3      ", "SL 80%          "]
        assert glass.backlight is True
        lcd.show_lines(["Waiting: 12", "SL 75%"])  # RPLCD sends only what changed
        assert glass.lines() == ["Waiting: 12     ", "SL 75%          "]
    assert glass.lines() == [" " * 16] * 2 and glass.backlight is False


def test_char_lcd_truncates_and_replaces_what_it_cannot_show():
    lcd, _bus, glass = lcd_on_fake()
    with lcd:
        lcd.show_lines(["Agent 101 on a call since 10:02", "排队 Müller\\~", "dropped"])
        assert glass.lines() == ["Agent 101 on a c", "?? M?ller??     "]
        lcd.show_lines(["only one"])
        assert glass.lines() == ["only one        ", " " * 16]


def test_char_lcd_20x4_uses_the_row_offsets_of_rows_3_and_4():
    lcd, _bus, glass = lcd_on_fake(cols=20, rows=4)
    rows = ["Line 1: queue sales", "Line 2: 3 waiting", "Line 3: SL 80%", "Line 4: 2 agents"]
    with lcd:
        lcd.show_lines(rows)
        assert glass.lines() == [row.ljust(20) for row in rows]
    set_ddram = {op for op in glass.instructions if op & 0x80}
    assert {0x80 | 0x00, 0x80 | 0x40, 0x80 | 0x14, 0x80 | 0x54} <= set_ddram


def test_char_lcd_backlight_and_failures():
    lcd, bus, glass = lcd_on_fake()
    with lcd:
        lcd.backlight(False)
        assert glass.backlight is False
        lcd.backlight(True)
        assert glass.backlight is True
        bus.fail_with = OSError(errno.EREMOTEIO, "Remote I/O error")
        with pytest.raises(DisplayError, match="character LCD at I2C 0x27"):
            lcd.show_lines(["x"])
        bus.fail_with = None
    dead = FakeSMBus()
    dead.fail_with = OSError(errno.EIO, "Input/output error")
    with pytest.raises(DisplayError):
        CharDisplay(bus=dead).start()


def test_the_lcd_glass_needs_the_4_bit_init_before_it_shows_anything():
    glass = HD44780Glass()
    bus = FakeSMBus()
    bus.attach(0x27, glass)
    # 'A' as data, nibble by nibble, without initialising the LCD first
    for nibble in (0x40, 0x10):
        for e in (0, 0x04, 0):
            bus.write_byte(0x27, nibble | 0x01 | 0x08 | e)
    assert glass.eight_bit and glass.lines() == [" " * 16] * 2  # display still off


# -- the fake bus and backend choice -------------------------------------------

def test_the_fake_records_writes_and_closes_twice():
    bus = FakeSMBus()
    bus.write_byte(0x27, 0x08)
    bus.write_byte_data(0x20, 0x09, 0xFF)
    bus.write_i2c_block_data(0x3C, 0x00, [0xAE, 0xAF])
    bus.i2c_rdwr(smbus2.i2c_msg.write(0x3C, [0x40, 1, 2]), smbus2.i2c_msg.read(0x3C, 2))
    assert bus.writes == [(0x27, b"\x08"), (0x20, b"\x09\xff"), (0x3C, b"\x00\xae\xaf"),
                          (0x3C, b"\x40\x01\x02")]
    with pytest.raises(ValueError):
        bus.write_i2c_block_data(0x3C, 0x40, [0] * 33)  # SMBus block limit, as smbus2
    bus.close()
    bus.close()
    assert bus.closed
    with pytest.raises(OSError):
        bus.write_byte(0x27, 0)


def test_displays_close_twice_and_leave_a_given_bus_open():
    oled, bus, _glass = oled_on_fake()
    oled.start()
    oled.close()
    oled.close()
    assert not bus.closed
    lcd, bus, _glass = lcd_on_fake()
    lcd.start()
    lcd.close()
    lcd.close()
    assert not bus.closed


def test_backend_choice(monkeypatch):
    monkeypatch.delenv(i2c.ENV_VAR, raising=False)
    monkeypatch.setattr(i2c, "detect_platform", lambda: Platform("PC", simulated=True))
    assert i2c.choose_backend() == "fake"
    assert isinstance(i2c.open_bus(1), FakeSMBus)
    monkeypatch.setattr(i2c, "detect_platform", lambda: Platform("Raspberry Pi 4", simulated=False))
    assert i2c.choose_backend() == "smbus2"
    monkeypatch.setenv(i2c.ENV_VAR, "fake")
    assert i2c.choose_backend() == "fake"
    assert i2c.choose_backend("smbus2") == "smbus2"
    monkeypatch.setenv(i2c.ENV_VAR, "pigpio")
    with pytest.raises(ConfigError, match="SMALLPBX_I2C"):
        i2c.choose_backend()


def test_a_display_opens_and_closes_its_own_bus(monkeypatch):
    opened = []

    def open_bus(port):
        bus = FakeSMBus(port)
        bus.attach(0x3C, SSD1306Glass())
        opened.append(bus)
        return bus

    monkeypatch.setattr(i2c, "open_bus", open_bus)
    oled = OledDisplay(port=3)
    assert opened == []  # the constructor opens nothing
    with oled:
        assert opened[0].port == 3 and not opened[0].closed
    assert opened[0].closed
