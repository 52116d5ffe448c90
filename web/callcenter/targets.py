"""Destinations ("targets") as the call center pages name and offer them.

A destination is stored as text: ``menu:main``, ``queue:sales``,
``extension:201``, ``voicemail:201``, ``announcement:closed``,
``time_condition:hours`` or ``hangup`` (firmware/telephony/targets.py).
Here they become words in the page's language, the grouped choices of a
destination picker (only what exists), and the prompts a menu may play:
the box's defaults (firmware/core/prompts.py) and the owner's own
recordings in ``DATA/prompts/custom/<lang>/``. A refused field
(``menus.main.choices.1``) is named the way the owner sees it
("menu main, key 1") with a link to its page.

Reads only; every change goes through :mod:`web.callcenter.service`.
"""
from __future__ import annotations

from pathlib import Path

from flask import url_for
from flask_babel import gettext

from firmware.core.prompts import PROMPTS
from firmware.telephony.targets import Target, TargetKind
from web.i18n import page_language

# Default prompts that are parts of other features (queue announcements,
# voicemail, agent feedback): not offered as a menu greeting.
_INTERNAL_PROMPTS = ("position-", "wait-minutes-", "vm-", "agent-", "night-mode-", "playback-test")
KEY_ORDER = "1234567890*#"


def parse(value) -> Target | None:
    """The :class:`Target` of a stored value, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return Target.parse(value)
    except ValueError:
        return None


def same_target(value, target: str) -> bool:
    parsed = parse(value)
    return parsed is not None and str(parsed) == target


def prompts(prompts_dir: Path) -> list[tuple[str, str]]:
    """``[(name, label)]``: the owner's recordings first, then the box's own prompts."""
    own = sorted({p.stem for p in Path(prompts_dir, "custom").glob("*/*.wav")})
    language = "zh_CN" if page_language() == "zh" else "en"
    out = [(name, gettext("%(name)s (own recording)", name=name)) for name in own]
    for name, texts in PROMPTS.items():
        if name in own or name.startswith(_INTERNAL_PROMPTS):
            continue
        text = texts.get(language) or texts.get("en", "")
        out.append((name, f"{name} · {text}"))
    return out


class Names:
    """Words for destinations and fields, from the tables and the extensions."""

    def __init__(self, tables: dict[str, list[dict]], extensions: list[dict]):
        self.tables = tables
        self.queues = {q.get("id"): q.get("name") or "" for q in tables.get("queues", [])}
        self.extensions = {e["number"]: e.get("name", "") for e in extensions}

    def target(self, value) -> str:
        t = parse(value)
        if t is None:
            return value or "–"
        if t.kind is TargetKind.MENU:
            return gettext("Menu %(id)s", id=t.ref)
        if t.kind is TargetKind.QUEUE:
            return _with_name(gettext("Queue %(id)s", id=t.ref), self.queues.get(t.ref), t.ref)
        if t.kind is TargetKind.EXTENSION:
            return _with_name(gettext("Extension %(number)s", number=t.ref), self.extensions.get(t.ref), t.ref)
        if t.kind is TargetKind.VOICEMAIL:
            return gettext("Voicemail %(box)s", box=t.ref)
        if t.kind is TargetKind.ANNOUNCEMENT:
            return gettext("Announcement %(prompt)s, then hang up", prompt=t.ref)
        if t.kind is TargetKind.TIME_CONDITION:
            return gettext("Business hours %(id)s", id=t.ref)
        return gettext("Hang up")

    def groups(self, prompt_names: list[str], current=()) -> list[tuple[str, list[tuple[str, str]]]]:
        """The choices of a destination picker, grouped; ``current`` values stay choosable."""
        t = self.tables
        mailboxes = list(self.extensions) + [v.get("id") for v in t.get("voicemail", [])
                                             if v.get("id") not in self.extensions]
        groups = [
            (gettext("Menus"), [f"menu:{m.get('id')}" for m in t.get("menus", [])]),
            (gettext("Queues"), [f"queue:{q.get('id')}" for q in t.get("queues", [])]),
            (gettext("Extensions"), [f"extension:{n}" for n in self.extensions]),
            (gettext("Voicemail"), [f"voicemail:{b}" for b in mailboxes]),
            (gettext("Business hours"), [f"time_condition:{c.get('id')}" for c in t.get("time_conditions", [])]),
            (gettext("Announcements"), [f"announcement:{p}" for p in prompt_names]),
            (gettext("Other"), ["hangup"]),
        ]
        known = {v for _label, values in groups for v in values}
        groups[-1][1].extend(v for v in dict.fromkeys(current) if v and v not in known)
        return [(label, [(v, self.target(v)) for v in values]) for label, values in groups if values]

    def field(self, path: str) -> str:
        """``menus.main.choices.1`` -> "menu main, key 1" (the owner's words for a config field)."""
        parts = path.split(".")
        table, key, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if table == "routes":
            return gettext("route %(number)s", number=key)
        if table == "lines":
            return gettext("line %(line)s", line=key)
        if table == "menus":
            if rest[:1] == ["choices"] and len(rest) > 1:
                return gettext("menu %(menu)s, key %(key)s", menu=key, key=rest[1])
            if rest == ["operator"]:
                return gettext("menu %(menu)s, operator (key 0)", menu=key)
            if rest == ["failover"]:
                return gettext("menu %(menu)s, after failed tries", menu=key)
            return gettext("menu %(menu)s", menu=key)
        if table == "queues":
            if rest == ["failover"]:
                return gettext("queue %(queue)s, when nobody answers", queue=key)
            if rest == ["exit_target"]:
                return gettext("queue %(queue)s, exit key", queue=key)
            return gettext("queue %(queue)s", queue=key)
        if table == "time_conditions":
            if rest == ["open"]:
                return gettext("business hours %(id)s, when open", id=key)
            if rest == ["closed"]:
                return gettext("business hours %(id)s, when closed", id=key)
            return gettext("business hours %(id)s", id=key)
        return path

    @staticmethod
    def target_url(value) -> str | None:
        """The page of a destination that has one here (menus, queues, hours)."""
        t = parse(value)
        if t is None:
            return None
        endpoint = {TargetKind.MENU: ("callcenter.menu", "tc_id"), TargetKind.QUEUE: ("callcenter.queue", "tc_id"),
                    TargetKind.TIME_CONDITION: ("callcenter.time_condition", "tc_id")}.get(t.kind)
        return url_for(endpoint[0], **{endpoint[1]: t.ref}) if endpoint else None

    @staticmethod
    def field_url(path: str) -> str | None:
        """The page where the record of ``path`` is edited."""
        parts = path.split(".")
        if len(parts) < 2 or parts[1] in ("", "?"):
            return None
        endpoint = {"routes": ("callcenter.route", "number"), "menus": ("callcenter.menu", "tc_id"),
                    "queues": ("callcenter.queue", "tc_id"),
                    "time_conditions": ("callcenter.time_condition", "tc_id")}.get(parts[0])
        if endpoint is None:
            return None
        return url_for(endpoint[0], **{endpoint[1]: parts[1]})


def _with_name(label: str, name: str | None, ref: str) -> str:
    return f"{label} · {name}" if name and name != ref else label


def key_sort(key: str):
    return (KEY_ORDER.index(key) if key in KEY_ORDER else len(KEY_ORDER), key)
