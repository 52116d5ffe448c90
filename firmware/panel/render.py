"""Pages drawn for the 128x64 OLED (and as PNG for the web page and docs).

Four rows of text per page in a font with CJK glyphs (WenQuanYi Micro Hei,
Debian's ``fonts-wqy-microhei``), so Chinese owners read Chinese; without
that font the page falls back to English in PIL's built-in font.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from firmware.panel.indicators import PanelState
from firmware.panel.pages import page_lines

WIDTH, HEIGHT = 128, 64
CJK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
             Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"))


@lru_cache(maxsize=4)
def _font(size: int):
    for path in CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size), True
    return ImageFont.load_default(), False


def render_page(page: str, state: PanelState, language: str = "en") -> Image.Image:
    """A 1-bit 128x64 image of one page: title on top, inverted."""
    font, has_cjk = _font(13)
    lines = page_lines(page, state, language if has_cjk else "en")
    image = Image.new("1", (WIDTH, HEIGHT), 0)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH - 1, 15), fill=1)
    draw.text((2, 0), lines[0], font=font, fill=0)
    for row, text in enumerate(lines[1:4], start=1):
        draw.text((2, row * 16), text, font=font, fill=1)
    return image
