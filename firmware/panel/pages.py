"""The display's pages as lines of text, in English or Chinese (pure).

Pages: the queue at a glance, today's numbers, the lines, and the box's
address with the setup URL (the first thing a new owner needs). Rows are
at most 16 characters wide in English, so the same text fits a 16x2 or
20x4 character LCD (which has no Chinese glyphs and always gets English)
and the 128x64 OLED.
"""
from __future__ import annotations

from firmware.panel.indicators import PanelState

PAGES = ("queue", "today", "lines", "network")

TEXT = {
    "en": {
        "queue": "Queue", "waiting": "Waiting {n}", "longest": "Longest {s}s",
        "agents": "Free {f} Busy {b}", "today": "Today", "answered": "Answered {n}",
        "abandoned": "Abandoned {n}", "sl": "SL {p}", "lines": "Lines", "no_lines": "No line yet",
        "network": "Setup", "no_address": "No network", "night": "NIGHT MODE",
    },
    "zh_CN": {
        "queue": "排队", "waiting": "等待 {n}", "longest": "最长 {s}秒",
        "agents": "空闲{f} 忙{b}", "today": "今日", "answered": "接听 {n}",
        "abandoned": "放弃 {n}", "sl": "服务水平 {p}", "lines": "线路", "no_lines": "尚无线路",
        "network": "设置", "no_address": "无网络", "night": "夜间模式",
    },
}


def page_lines(page: str, state: PanelState, language: str = "en") -> list[str]:
    t = TEXT.get(language, TEXT["en"])
    if page == "queue":
        head = t["night"] if state.night_mode else t["queue"]
        return [head, t["waiting"].format(n=state.waiting),
                t["longest"].format(s=int(state.longest_wait_s)),
                t["agents"].format(f=state.agents_free, b=state.agents_busy)]
    if page == "today":
        pct = "-" if state.service_level is None else f"{round(100 * state.service_level)}%"
        return [t["today"], t["answered"].format(n=state.answered),
                t["abandoned"].format(n=state.abandoned), t["sl"].format(p=pct)]
    if page == "lines":
        rows = [f"{name[:9]} {line_state}"[:16] for name, line_state in state.lines[:3]]
        return [t["lines"]] + (rows or [t["no_lines"]])
    if page == "network":
        if not state.address:
            return [t["network"], t["no_address"]]
        return [t["network"], state.address, f"http://{state.address}/"[:20]]
    raise ValueError(f"unknown page {page!r}")
