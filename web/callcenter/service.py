"""The call center's tables as the admin pages and the API change them.

Owns: changing one record of ``routes``, ``menus``, ``queues`` or
``time_conditions`` (a route's new number moves the lines on it), refusing to delete a
record something still points to, the day/night override, and the menu
tree. It does not touch extensions, settings or users.

Each change is one read-modify-write under the config store's writer lock
(:meth:`ConfigStore.write`), written with the store's own storage, which
validates the whole document first (``firmware.config.callcenter.build``
through ``schema.validate``): a refusal raises ``ConfigError`` naming the
field (``menus.main.choices.1``) and the file is untouched. Not
``replace_callcenter``: the tables it is given are read before it takes
the lock, so a day/night override the core stored in between (``*28``)
would be silently undone.
"""
from __future__ import annotations

import logging
from typing import Callable

from firmware.config.store import ConfigStore
from firmware.errors import ConfigError, ControlError
from firmware.telephony.targets import TargetKind
from web.box import Box
from web.callcenter.targets import key_sort, parse, same_target
from web.i18n import N_

log = logging.getLogger(__name__)

TABLES = ("routes", "menus", "queues", "time_conditions")
KEY = {"routes": "number", "menus": "id", "queues": "id", "time_conditions": "id"}
KIND = {"menus": "menu", "queues": "queue", "time_conditions": "time_condition"}
# Fields an edit keeps from the stored record unless it names them itself:
# the override is the day/night switch's (feature code, dashboard, core).
KEEP = {"time_conditions": ("override",)}


class NotFound(ConfigError):
    """The record to change or delete does not exist."""


class StillUsed(ConfigError):
    """A record cannot be deleted: ``users`` (config fields) still point to it."""

    def __init__(self, field: str, target: str, users: list[str]):
        super().__init__(field, N_("is still used"))
        self.target = target
        self.users = users


def tables(box: Box) -> dict[str, list[dict]]:
    return box.store.callcenter_tables()


def find(rows: list[dict], table: str, key: str) -> dict | None:
    return next((r for r in rows if r.get(KEY[table]) == key), None)


def _change(box: Box, mutate: Callable[[dict[str, list[dict]]], object]):
    """Run ``mutate(tables)`` on the current tables and write them, all under the writer lock."""
    return box.store.update_callcenter(mutate)


def _check_text(field: str, value, max_len: int = 64) -> None:
    if not isinstance(value, str):
        raise ConfigError(field, N_("must be text"))
    if len(value) > max_len:
        raise ConfigError(field, N_("must be at most 64 characters"))
    if any(ord(ch) < 32 or ord(ch) == 127 or ch in '"\\' for ch in value):
        raise ConfigError(field, N_('must not contain control characters, " or \\'))


def _check_record(table: str, key: str, record) -> None:
    """What the firmware leaves unchecked: names are shown on the phone and the page."""
    if not isinstance(record, dict):
        raise ConfigError(f"{table}.{key}", N_("must be a JSON object"))
    if "name" in record:
        _check_text(f"{table}.{key}.name", record["name"])
    if table == "menus" and not isinstance(record.get("direct_dial", True), bool):
        raise ConfigError(f"menus.{key}.direct_dial", N_("must be true or false"))


def references(current: dict[str, list[dict]], target: str, *, skip: tuple[str, str] | None = None) -> list[str]:
    """Config fields that point to ``target`` (e.g. ``menu:sales``), in page order.

    :param skip: ``(table, key)`` of a record whose own fields do not count
        (a menu that leads back to itself goes with it).
    """
    out = []
    for r in current.get("routes", []):
        if same_target(r.get("target"), target):
            out.append(f"routes.{r.get('number')}.target")
    for m in current.get("menus", []):
        if skip == ("menus", m.get("id")):
            continue
        choices = m.get("choices") or {}
        for key in sorted(choices, key=key_sort):
            if same_target(choices[key], target):
                out.append(f"menus.{m.get('id')}.choices.{key}")
        for name in ("operator", "failover"):
            if same_target(m.get(name), target):
                out.append(f"menus.{m.get('id')}.{name}")
    for q in current.get("queues", []):
        if skip == ("queues", q.get("id")):
            continue
        if same_target(q.get("failover"), target):
            out.append(f"queues.{q.get('id')}.failover")
        if q.get("exit_key") and same_target(q.get("exit_target"), target):
            out.append(f"queues.{q.get('id')}.exit_target")
    for c in current.get("time_conditions", []):
        if skip == ("time_conditions", c.get("id")):
            continue
        for name in ("open", "closed"):
            if same_target(c.get(name), target):
                out.append(f"time_conditions.{c.get('id')}.{name}")
    return out


def route_users(current: dict[str, list[dict]], number: str) -> list[str]:
    return [f"lines.{line.get('id')}.route" for line in current.get("lines", []) if line.get("route") == number]


def save(box: Box, table: str, record: dict, *, old_key: str | None = None) -> dict:
    """Add a record (``old_key`` None) or replace the one stored under ``old_key``.

    Only a route may change its key (its number); the lines that arrive on
    it follow. Refusals raise ``ConfigError`` naming the field; nothing is saved.
    :returns: ``{"record": ..., "created": bool, "applied": bool}``
    """
    if table not in TABLES:
        raise ValueError(table)
    key_name = KEY[table]
    key = record.get(key_name) if isinstance(record, dict) else None
    _check_record(table, key if isinstance(key, str) else "?", record)
    if old_key is not None and table != "routes" and key != old_key:
        raise ConfigError(f"{table}.{old_key}.{key_name}", N_("cannot be changed; add a new one instead"))

    def mutate(current):
        rows = current[table]
        if old_key is None:
            if find(rows, table, key) is not None:
                raise ConfigError(f"{table}.{key}.{key_name}", N_("exists already"))
            saved = dict(record)
            rows.append(saved)
            return saved
        old = find(rows, table, old_key)
        if old is None:
            raise NotFound(f"{table}.{old_key}", N_("does not exist"))
        if key != old_key and find(rows, table, key) is not None:
            raise ConfigError(f"{table}.{key}.{key_name}", N_("is already used by a route or an extension"))
        saved = {**{k: old[k] for k in KEEP.get(table, ()) if k in old}, **record}
        rows[rows.index(old)] = saved
        if table == "routes" and key != old_key:
            for line in current["lines"]:
                if line.get("route") == old_key:
                    line["route"] = key
        return saved

    saved = _change(box, mutate)
    return {"record": saved, "created": old_key is None, "applied": box.apply_config()}


def delete(box: Box, table: str, key: str) -> dict:
    """Delete a record, or refuse (:class:`StillUsed`) while something points to it."""
    def mutate(current):
        rows = current[table]
        row = find(rows, table, key)
        if row is None:
            raise NotFound(f"{table}.{key}", N_("does not exist"))
        if table == "routes":
            users, target = route_users(current, key), f"route:{key}"
        else:
            target = f"{KIND[table]}:{key}"
            users = references(current, target, skip=(table, key))
        if users:
            raise StillUsed(f"{table}.{key}", target, users)
        rows.remove(row)

    _change(box, mutate)
    return {"deleted": key, "applied": box.apply_config()}


def set_override(box: Box, tc_id: str, mode: str | None) -> bool:
    """Day/night: through the running core (it stores and applies it), else stored for its start.

    :returns: True if the running core applied it. A refusal by the core raises ``ControlError``.
    """
    if find(tables(box)["time_conditions"], "time_conditions", tc_id) is None:
        raise NotFound(f"time_conditions.{tc_id}", N_("does not exist"))
    try:
        box.core("override", id=tc_id, mode=mode)
        return True
    except ControlError as exc:
        if not isinstance(exc.__cause__, OSError):
            raise
        log.info("the core is not reachable (%s); override of %s stored for its start", exc, tc_id)
    box.store.set_override(tc_id, mode)
    return False


def menu_tree(current: dict[str, list[dict]], menu_id: str) -> dict | None:
    """The menu as callers meet it: its keys and where each leads, menus nested.

    A menu reached again below itself is a loop: shown as a reference
    (``ref="loop"``), not followed. A menu already drawn elsewhere in the
    tree is a reference too (``ref="above"``); a missing one is ``"missing"``.
    Entries: ``{"key", "kind" (choice|operator|direct|failover), "target", "child", "ref"}``.
    """
    menus = {m.get("id"): m for m in current.get("menus", [])}
    if menu_id not in menus:
        return None
    drawn: set[str] = set()

    def entry(key: str, kind: str, target, path: tuple[str, ...]) -> dict:
        e = {"key": key, "kind": kind, "target": target, "child": None, "ref": None}
        t = parse(target)
        if t is not None and t.kind is TargetKind.MENU:
            if t.ref in path:
                e["ref"] = "loop"
            elif t.ref not in menus:
                e["ref"] = "missing"
            elif t.ref in drawn:
                e["ref"] = "above"
            else:
                e["child"] = node(t.ref, path + (t.ref,))
        return e

    def node(mid: str, path: tuple[str, ...]) -> dict:
        drawn.add(mid)
        m = menus[mid]
        choices = m.get("choices") or {}
        entries = [entry(k, "choice", choices[k], path) for k in sorted(choices, key=key_sort)]
        if "0" not in choices:
            entries.append(entry("0", "operator", m.get("operator"), path))
        if m.get("direct_dial", True):
            entries.append({"key": "", "kind": "direct", "target": None, "child": None, "ref": None})
        entries.append(entry("", "failover", m.get("failover") or m.get("operator"), path))
        return {"id": mid, "prompt": m.get("prompt", "welcome"), "entries": entries}

    return node(menu_id, (menu_id,))
