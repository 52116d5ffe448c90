#!/usr/bin/env python3
"""Draw every display page (English and Chinese) to docs/panel/*.png.

The pages are drawn by the same code the OLED gets (firmware/panel/render.py)
for a sample moment in a shop: 2 callers waiting, one agent free.
Usage: .venv/bin/python scripts/panel-pictures.py
"""
from pathlib import Path

from firmware.panel.indicators import PanelState
from firmware.panel.pages import PAGES
from firmware.panel.render import render_page

OUT = Path(__file__).resolve().parents[1] / "docs" / "panel"
SAMPLE = PanelState(lines=(("gsm1", "in-call"),), agents_free=1, agents_busy=2, waiting=2, longest_wait_s=12,
                    offered=57, answered=51, abandoned=4, service_level=0.86, address="192.168.1.20")

OUT.mkdir(parents=True, exist_ok=True)
for language in ("en", "zh_CN"):
    for page in PAGES:
        image = render_page(page, SAMPLE, language).convert("L")
        image = image.resize((image.width * 3, image.height * 3))  # the glass is 2.4 cm wide
        path = OUT / f"{page}-{language}.png"
        image.save(path)
        print(path)
