"""The call center in the JSON API: ``/api/callcenter/...`` (admin only).

:func:`add_routes` puts the views on the API blueprint (``web/api/views.py``
calls it), so they share its session, roles and error answers; the
changes are :mod:`web.callcenter.service`'s, with the same validation as
the pages. A refusal is ``{"error", "field"}`` with 400 (``used_by`` lists
what still points to a record that cannot be deleted); a record that does
not exist is 404. :func:`openapi_paths` describes them for
``/api/openapi.json``.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from firmware.errors import ConfigError
from web.box import get_box
from web.callcenter import service
from web.callcenter.messages import translate
from web.i18n import N_
from web.security import admin_required

# Line fields safe to show (the rest may hold a SIM PIN or a provider's password).
LINE_FIELDS = ("id", "kind", "name", "route", "enabled")


def public_tables(box) -> dict:
    t = service.tables(box)
    t["voicemail"] = [{**{k: v for k, v in r.items() if k != "pin"}, "has_pin": bool(r.get("pin"))}
                      for r in t["voicemail"]]
    t["lines"] = [{k: r[k] for k in LINE_FIELDS if k in r} for r in t["lines"]]
    return t


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConfigError("(body)", N_("must be a JSON object"))
    return body


def _put(table: str, key: str, body: dict, *, defaults: dict | None = None):
    key_name = service.KEY[table]
    if body.get(key_name, key) != key and table != "routes":
        raise ConfigError(f"{table}.{key}.{key_name}", N_("must be the same as in the address"))
    box = get_box()
    exists = service.find(service.tables(box)[table], table, key) is not None
    record = {key_name: key, **(defaults or {}), **body}
    if not exists and record[key_name] != key:
        raise ConfigError(f"{table}.{key}.{key_name}", N_("must be the same as in the address"))
    result = service.save(box, table, record, old_key=key if exists else None)
    return jsonify(result), 201 if result["created"] else 200


def _one(table: str, key: str):
    if request.method == "DELETE":
        return jsonify(service.delete(get_box(), table, key))
    defaults = {"timezone": get_box().state.timezone_name()} if table == "time_conditions" else None
    return _put(table, key, _body(), defaults=defaults)


@admin_required
def callcenter():
    return jsonify(public_tables(get_box()))


@admin_required
def menu(tc_id: str):
    return _one("menus", tc_id)


@admin_required
def menu_tree(tc_id: str):
    tree = service.menu_tree(service.tables(get_box()), tc_id)
    if tree is None:
        raise service.NotFound(f"menus.{tc_id}", N_("does not exist"))
    return jsonify(tree)


@admin_required
def queue(tc_id: str):
    return _one("queues", tc_id)


@admin_required
def time_condition(tc_id: str):
    return _one("time_conditions", tc_id)


@admin_required
def route(number: str):
    return _one("routes", number)


def _not_found(exc: service.NotFound):
    return jsonify({"error": translate(exc.message), "field": exc.field}), 404


def _still_used(exc: service.StillUsed):
    return jsonify({"error": translate(exc.message), "field": exc.field, "used_by": exc.users}), 400


def add_routes(bp: Blueprint) -> None:
    """Register the call center's API views on the API blueprint.

    The id in a path is named ``tc_id`` for menus and queues too: the name the
    CSRF route walker (tests/webui/test_security.py) knows, published as ``{id}``.
    """
    for rule, view, methods in (
            ("/callcenter", callcenter, ["GET"]),
            ("/callcenter/menus/<tc_id>", menu, ["PUT", "DELETE"]),
            ("/callcenter/menus/<tc_id>/tree", menu_tree, ["GET"]),
            ("/callcenter/queues/<tc_id>", queue, ["PUT", "DELETE"]),
            ("/callcenter/time-conditions/<tc_id>", time_condition, ["PUT", "DELETE"]),
            ("/callcenter/routes/<number>", route, ["PUT", "DELETE"])):
        endpoint = "callcenter" if view is callcenter else f"callcenter_{view.__name__}"
        bp.add_url_rule(rule, endpoint, view, methods=methods)
    bp.register_error_handler(service.NotFound, _not_found)
    bp.register_error_handler(service.StillUsed, _still_used)


def openapi_paths() -> dict:
    """The ``paths`` entries of the routes above (merged into ``web/api/openapi.py``'s document)."""
    from web.api.openapi import _CSRF, _errors, _ok
    obj = {"type": "object"}
    tables = {"type": "object", "properties": {name: {"type": "array", "items": obj} for name in (
        "routes", "menus", "queues", "time_conditions", "voicemail", "lines", "outbound_routes")}}
    saved = _ok("saved (201: created); applied=false when the core is not running", {
        "type": "object", "properties": {"record": obj, "created": {"type": "boolean"},
                                         "applied": {"type": "boolean"}}})
    deleted = _ok("deleted", {"type": "object", "properties": {"deleted": {"type": "string"},
                                                               "applied": {"type": "boolean"}}})

    def one(what: str, param: str, pattern: str, record: dict, note: str = "") -> dict:
        p = {"name": param, "in": "path", "required": True, "schema": {"type": "string", "pattern": pattern}}
        return {
            "put": {"summary": f"Create or replace {what} (the whole record; the config store validates it)"
                               + note,
                    "parameters": [*_CSRF, p],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": record}}},
                    "responses": {"200": saved, "201": saved, **_errors(400, 401, 403)}},
            "delete": {"summary": f"Delete {what}; refused (400, used_by) while anything points to it",
                       "parameters": [*_CSRF, p],
                       "responses": {"200": deleted, **_errors(400, 401, 403, 404)}},
        }

    ident = "^[a-z0-9][a-z0-9_-]{0,31}$"
    target = {"type": "string", "description": "menu:ID, queue:ID, extension:N, voicemail:ID, "
                                               "announcement:PROMPT, time_condition:ID or hangup"}
    menu_schema = {"type": "object", "required": ["operator"], "properties": {
        "id": {"type": "string"}, "prompt": {"type": "string"}, "operator": target, "failover": target,
        "choices": {"type": "object", "additionalProperties": target,
                    "description": "one key (0-9, *, #) -> destination"},
        "timeout_s": {"type": "number", "minimum": 1, "maximum": 60},
        "inter_digit_s": {"type": "number", "minimum": 0.5, "maximum": 10},
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 9}, "direct_dial": {"type": "boolean"},
        "invalid_prompt": {"type": "string"}, "timeout_prompt": {"type": "string"}}}
    queue_schema = {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string", "maxLength": 64},
        "members": {"type": "array", "items": {"type": "string"}},
        "strategy": {"enum": ["rrmemory", "leastrecent", "fewestcalls", "ringall"]},
        "failover": target, "exit_key": {"type": "string"}, "exit_target": target,
        **{k: {"type": "number"} for k in ("ring_timeout_s", "retry_s", "wrapup_s", "max_wait_s",
                                           "sl_threshold_s", "announce_every_s")},
        **{k: {"type": "integer"} for k in ("autopause_after", "max_callers", "sticky_days")},
        "join_empty": {"type": "boolean"}, "leave_when_empty": {"type": "boolean"},
        "recording": {"enum": ["always", "never", "on-demand"]}}}
    tc_schema = {"type": "object", "required": ["open", "closed"], "properties": {
        "id": {"type": "string"}, "timezone": {"type": "string"},
        "hours": {"type": "object", "description": "mon..sun -> ['09:00-12:00', '13:00-18:00']"},
        "holidays": {"type": "array", "items": {"type": "string", "format": "date"}},
        "extra_workdays": {"type": "array", "items": {"type": "string", "format": "date"}},
        "makeup_weekday": {"type": "integer", "minimum": 0, "maximum": 6},
        "open": target, "closed": target, "override": {"enum": [None, "open", "closed"]}}}
    route_schema = {"type": "object", "required": ["target"], "properties": {
        "number": {"type": "string", "pattern": "^[0-9+]{2,20}$"}, "name": {"type": "string", "maxLength": 64},
        "target": target}}
    return {
        "/api/callcenter": {"get": {
            "summary": "The call center tables: routes, menus, queues, time conditions, voicemail (without "
                       "PINs), lines (id, kind, name, route, enabled) and outbound routes",
            "responses": {"200": _ok("tables", tables), **_errors(401, 403)}}},
        "/api/callcenter/menus/{id}": one("an IVR menu", "id", ident, menu_schema),
        "/api/callcenter/menus/{id}/tree": {"get": {
            "summary": "The menu as a tree: its keys and where they lead, menus nested (a loop is a reference)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _ok("tree", obj), **_errors(401, 403, 404)}}},
        "/api/callcenter/queues/{id}": one("a queue", "id", ident, queue_schema),
        "/api/callcenter/time-conditions/{id}": one(
            "business hours (a time condition)", "id", ident, tc_schema,
            "; the day/night override is kept unless the body names it"),
        "/api/callcenter/routes/{number}": one(
            "an inbound route", "number", "^[0-9+]{2,20}$", route_schema,
            "; a different number in the body renumbers it, and the lines on it follow"),
    }
