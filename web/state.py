"""The web's own small state: the setup wizard's progress and draft, and
the shop's time zone, in ``DATA/web/state.json`` (written only here).

The wizard collects the call-center choices (hours, greeting, queue) as a
draft and writes them to the config store in one go at its last step: the
store refuses a route or menu that points to something not there yet, so
the pieces cannot be saved one by one.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from web.jsonfile import LockedJsonFile

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _empty() -> dict:
    return {"version": 1, "wizard": {"done": False, "step": 0, "draft": {}}, "timezone": None}


class WebState:
    def __init__(self, path: Path):
        self.file = LockedJsonFile(path, _empty)

    def prepare(self) -> "WebState":
        self.file.prepare()
        return self

    def wizard(self) -> dict:
        data = self.file.read()
        wiz = data.get("wizard") or {}
        return {"done": bool(wiz.get("done")), "step": int(wiz.get("step", 0)), "draft": dict(wiz.get("draft") or {})}

    def wizard_done(self) -> bool:
        return self.wizard()["done"]

    def save_step(self, step: int, **draft_changes) -> None:
        """Record draft values and that the wizard got past ``step``."""
        with self.file.update() as data:
            wiz = data.setdefault("wizard", {"done": False, "step": 0, "draft": {}})
            wiz.setdefault("draft", {}).update(draft_changes)
            wiz["step"] = max(int(wiz.get("step", 0)), step)

    def finish_wizard(self) -> None:
        with self.file.update() as data:
            data.setdefault("wizard", {})["done"] = True

    def take_admin_reset(self, requested_at: float) -> bool:
        """True once per admin-reset request (identified by its time)."""
        with self.file.update() as data:
            if float(data.get("admin_reset_at") or 0) >= requested_at:
                return False
            data["admin_reset_at"] = requested_at
            return True

    def timezone_name(self) -> str:
        return self.file.read().get("timezone") or DEFAULT_TIMEZONE

    def set_timezone(self, name: str) -> None:
        with self.file.update() as data:
            data["timezone"] = name

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone_name())
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def now(self) -> datetime:
        return datetime.now(self.zone())
