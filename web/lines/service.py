"""Phone lines and outbound routes as the lines page, the wizard and the API change them.

Every change is a function of the current tables (:func:`put_line`,
:func:`remove_line`, :func:`put_route`, :func:`remove_route`) run by
:func:`write` inside :meth:`ConfigStore.update_callcenter`: the tables are
read, changed and written under one hold of the writer lock, so nothing
another writer stored before it (a line or route saved from another
browser, an override the core just stored) is lost. Only ``lines`` and
``outbound_routes`` change. The store validates the whole document
(``firmware/config/lines.py``) and refuses with ``ConfigError(field,
message)`` — ``lines.gsm1.pin`` — saving nothing. Then the core is asked
to reload.

Secrets: a trunk's password and a SIM PIN are never given back to a page
or the API (:func:`public_line`); an empty password or PIN in a change
keeps the stored one.

The pages and the API read the tables before (to show a form, to answer
404); what is written is always computed from the tables as they are under
the lock.
"""
from __future__ import annotations

import copy
from typing import Callable

from firmware.config.store import ConfigStore
from firmware.errors import ConfigError, ControlError
from web.box import Box
from web.i18n import N_

SECRET_FIELDS = ("password", "pin")


def tables(store: ConfigStore) -> dict[str, list[dict]]:
    return store.callcenter_tables()


def find(rows: list[dict], row_id: str) -> dict | None:
    return next((r for r in rows if r.get("id") == row_id), None)


def put_line(current: dict[str, list[dict]], rec: dict, *, original: str | None = None,
             clear: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """The tables with ``rec`` added, or put in place of line ``original``.

    An empty or missing ``password`` (trunk) or ``pin`` keeps the stored one
    unless named in ``clear``; fields the form does not show (``expires``)
    are kept too. The kind of a line does not change.
    """
    out = copy.deepcopy(current)
    lines = out["lines"]
    if original:
        old = find(lines, original)
        if old is None:
            raise ConfigError(f"lines.{original}", N_("no such line"))
        if rec.get("kind", old.get("kind", "gsm")) != old.get("kind", "gsm"):
            raise ConfigError(f"lines.{original}.kind", N_("cannot change; remove the line and add it again"))
        rec = {**old, **rec, "id": original, "kind": old.get("kind", "gsm")}
        for key in SECRET_FIELDS:
            if key in clear:
                if key in old:
                    rec[key] = ""
            elif old.get(key) and not rec.get(key):
                rec[key] = old[key]
        lines[lines.index(old)] = rec
    else:
        if find(lines, rec.get("id")) is not None:
            raise ConfigError(f"lines.{rec.get('id')}.id", N_("exists already"))
        lines.append(rec)
    return out


def remove_line(current: dict[str, list[dict]], line_id: str) -> dict[str, list[dict]]:
    """The tables without the line; it leaves every outbound route that tried it.

    A route left with no line at all is refused by the store (the route names itself).
    """
    out = copy.deepcopy(current)
    line = find(out["lines"], line_id)
    if line is None:
        raise ConfigError(f"lines.{line_id}", N_("no such line"))
    out["lines"].remove(line)
    for route in out["outbound_routes"]:
        route["lines"] = [name for name in route.get("lines", []) if name != line_id]
    return out


def put_route(current: dict[str, list[dict]], rec: dict, *, original: str | None = None) -> dict[str, list[dict]]:
    out = copy.deepcopy(current)
    routes = out["outbound_routes"]
    if original:
        old = find(routes, original)
        if old is None:
            raise ConfigError(f"outbound_routes.{original}", N_("no such route"))
        routes[routes.index(old)] = {**rec, "id": original}
    else:
        if find(routes, rec.get("id")) is not None:
            raise ConfigError(f"outbound_routes.{rec.get('id')}.id", N_("exists already"))
        routes.append(rec)
    return out


def remove_route(current: dict[str, list[dict]], route_id: str) -> dict[str, list[dict]]:
    out = copy.deepcopy(current)
    route = find(out["outbound_routes"], route_id)
    if route is None:
        raise ConfigError(f"outbound_routes.{route_id}", N_("no such route"))
    out["outbound_routes"].remove(route)
    return out


def write(box: Box, change: Callable[[dict[str, list[dict]]], dict[str, list[dict]]]) -> bool:
    """Apply ``change`` to the current tables and save (all valid, or nothing); True if the core reloaded.

    ``change(tables)`` gets the tables as read under the store's writer lock
    and returns the new ones (e.g. ``lambda t: put_line(t, rec)``); only
    ``lines`` and ``outbound_routes`` are taken from it. A ``ConfigError``
    from ``change`` or from the store's validation saves nothing.
    """
    def mutate(tables: dict) -> None:
        new_tables = change(tables)
        for name in ("lines", "outbound_routes"):
            tables[name] = new_tables[name]
    box.store.update_callcenter(mutate)
    return box.apply_config()


def public_line(rec: dict) -> dict:
    """A line as a page or the API may show it: no password, no PIN, only whether one is set."""
    out = {k: v for k, v in rec.items() if k not in SECRET_FIELDS}
    if rec.get("kind") == "sip":
        out["password_set"] = bool(rec.get("password"))
    else:
        out["pin_set"] = bool(rec.get("pin"))
    return out


def live_lines(box: Box) -> list[dict] | None:
    """The core's view of each line (``lines``); None when the core is not reachable."""
    try:
        return box.core("lines")
    except ControlError:
        return None


def line_events(box: Box, limit: int = 20) -> list[dict] | None:
    try:
        return box.core("line-events", limit=limit)
    except ControlError:
        return None


LIVE_FIELDS = ("state", "detail", "since", "signal_dbm", "route", "call", "recovery", "in_call", "panel_state")


def listing(box: Box, live: list[dict] | None) -> list[dict]:
    """Configured lines with the core's live state (``live`` None: the core is down)."""
    by_name = {item.get("name"): item for item in live or []}
    out = []
    for rec in box.store.callcenter_tables()["lines"]:
        row = public_line(rec)
        item = by_name.get(rec["id"])
        row["live"] = None if item is None else {k: item.get(k) for k in LIVE_FIELDS}
        out.append(row)
    return out


# -- the setup wizard's line ----------------------------------------------------------------------
# The wizard asks for the line before the route its calls take exists (the
# route is made at its last step), so the line waits in the wizard's draft
# and is written with the call center in one replace_callcenter.
WIZARD_LINE_ID = "gsm1"
ROUTE_PLACEHOLDER = "600"


def wizard_record(choice: str, device: str, vendor: str, pin: str, pcm_device: str) -> dict | None:
    """The line the wizard's choice stands for (without its route); None for "no line"."""
    if choice == "sim":
        return {"id": WIZARD_LINE_ID, "kind": "gsm", "name": "", "device": "sim", "vendor": "sim7600", "pin": pin}
    if choice == "gsm":
        return {"id": WIZARD_LINE_ID, "kind": "gsm", "name": "", "device": device, "vendor": vendor, "pin": pin,
                "pcm_device": pcm_device}
    return None


def check_wizard_line(rec: dict) -> None:
    """Raise ``ConfigError`` (``lines.gsm1.pin`` ...) unless the line's own fields are valid."""
    from firmware.config import lines as lines_config
    lines_config.build({"lines": {"1": {**rec, "route": ROUTE_PLACEHOLDER}}}, {ROUTE_PLACEHOLDER})


def with_wizard_line(callcenter: dict[str, list[dict]], current_lines: list[dict], rec: dict | None,
                     route: str) -> dict[str, list[dict]]:
    """The wizard's call-center tables plus its line, whose calls take ``route``."""
    if not rec:
        return callcenter
    rec = {**rec, "route": route}
    exists = find(current_lines, rec["id"]) is not None
    lines = put_line({"lines": current_lines}, rec, original=rec["id"] if exists else None)["lines"]
    return {**callcenter, "lines": lines}
