"""Inbound routes, IVR menus and queues as stored in the config document.

Turns the config tables into the telephony core's objects (``ivr.Menu``,
``QueueConfig``, route ``Target`` s) and refuses anything invalid with a
``ConfigError`` naming the field, e.g. ``queues.sales.strategy`` or
``menus.main.choices.1``. The config store runs :func:`build` before every
write, so the box never holds a route that points nowhere.

Document shape (one record per object)::

    routes: {"number": "600", "target": "menu:main", "name": "Shop"}
    menus:  {"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales"},
             "operator": "queue:sales", "timeout_s": 5, "inter_digit_s": 2,
             "max_attempts": 3, "failover": null, "direct_dial": true}
    queues: {"id": "sales", "members": ["201", "202"], "strategy": "rrmemory", ...}
    time_conditions: {"id": "hours", "timezone": "Asia/Shanghai",
             "hours": {"mon": ["09:00-12:00", "13:00-18:00"], ...},
             "holidays": ["2026-10-01"], "extra_workdays": ["2026-09-27"],
             "open": "menu:main", "closed": "announcement:closed", "override": null}
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from firmware.errors import ConfigError
from firmware.telephony import ivr
from firmware.telephony import timeconditions as tc
from firmware.telephony.queues import QueueConfig, Strategy
from firmware.telephony.targets import Target, TargetKind

ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ROUTE_NUMBER = re.compile(r"^[0-9+]{2,20}$")
PROMPT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
QUEUE_FIELDS = {"id", "name", "members", "strategy", "failover", "exit_key", "exit_target", "ring_timeout_s",
                "retry_s", "wrapup_s", "autopause_after", "max_wait_s", "max_callers", "join_empty",
                "leave_when_empty", "sticky_days", "sl_threshold_s", "announce_every_s", "recording"}
TC_FIELDS = {"id", "timezone", "hours", "holidays", "extra_workdays", "makeup_weekday", "open", "closed",
             "override"}
MENU_FIELDS = {"id", "prompt", "choices", "operator", "timeout_s", "inter_digit_s", "max_attempts",
               "failover", "direct_dial", "invalid_prompt", "timeout_prompt"}


@dataclass(frozen=True)
class CallCenterConfig:
    routes: dict[str, Target]
    menus: dict[str, ivr.Menu]
    queues: dict[str, QueueConfig]
    time_conditions: dict[str, tc.TimeCondition] = field(default_factory=dict)
    mailboxes: dict[str, str | None] = field(default_factory=dict)   # id -> PIN hash


def _target(value, field: str) -> Target:
    if not isinstance(value, str):
        raise ConfigError(field, "must be a destination like 'queue:sales' or 'hangup'")
    try:
        return Target.parse(value)
    except ValueError as exc:
        raise ConfigError(field, str(exc)) from None


def _number(value, field: str, low: float, high: float, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(field, "must be a whole number" if integer else "must be a number")
    if not low <= value <= high:
        raise ConfigError(field, f"must be from {low:g} to {high:g}")
    return value


def _check_keys(record: dict, allowed: set[str], prefix: str) -> None:
    unknown = set(record) - allowed
    if unknown:
        raise ConfigError(f"{prefix}.{sorted(unknown)[0]}", "is not a known field")


def _queue(rec: dict, extensions: set[str]) -> QueueConfig:
    qid = rec.get("id")
    if not isinstance(qid, str) or not ID.match(qid):
        raise ConfigError("queues.?.id", "must be 1-32 lowercase letters, digits, '-' or '_'")
    p = f"queues.{qid}"
    _check_keys(rec, QUEUE_FIELDS, p)
    members = rec.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise ConfigError(f"{p}.members", "must be a list of extension numbers")
    for m in members:
        if m not in extensions:
            raise ConfigError(f"{p}.members", f"extension {m} does not exist")
    if len(set(members)) != len(members):
        raise ConfigError(f"{p}.members", "lists an extension twice")
    try:
        strategy = Strategy(rec.get("strategy", "rrmemory"))
    except ValueError:
        raise ConfigError(f"{p}.strategy", "must be one of " + ", ".join(s.value for s in Strategy)) from None
    kw = {}
    limits = {"ring_timeout_s": (3, 120), "retry_s": (0, 60), "wrapup_s": (0, 600), "max_wait_s": (0, 7200),
              "sl_threshold_s": (1, 600), "announce_every_s": (0, 600)}
    for name, (low, high) in limits.items():
        if name in rec:
            kw[name] = float(_number(rec[name], f"{p}.{name}", low, high))
    for name, (low, high) in {"autopause_after": (0, 20), "max_callers": (1, 100), "sticky_days": (0, 365)}.items():
        if name in rec:
            kw[name] = _number(rec[name], f"{p}.{name}", low, high, integer=True)
    for name in ("join_empty", "leave_when_empty"):
        if name in rec:
            if not isinstance(rec[name], bool):
                raise ConfigError(f"{p}.{name}", "must be true or false")
            kw[name] = rec[name]
    if "failover" in rec:
        kw["failover"] = _target(rec["failover"], f"{p}.failover")
    if "recording" in rec:
        if rec["recording"] not in ("always", "never", "on-demand"):
            raise ConfigError(f"{p}.recording", "must be always, never or on-demand")
        kw["recording"] = rec["recording"]
    exit_key = rec.get("exit_key", "")
    if exit_key not in ("",) + tuple("0123456789*#"):
        raise ConfigError(f"{p}.exit_key", "must be one key (0-9, * or #) or empty")
    if exit_key:
        kw["exit_key"] = exit_key
        kw["exit_target"] = _target(rec.get("exit_target"), f"{p}.exit_target")
    return QueueConfig(qid, tuple(members), strategy, **kw)


def _menu(rec: dict, extensions: set[str]) -> ivr.Menu:
    mid = rec.get("id")
    if not isinstance(mid, str) or not ID.match(mid):
        raise ConfigError("menus.?.id", "must be 1-32 lowercase letters, digits, '-' or '_'")
    p = f"menus.{mid}"
    _check_keys(rec, MENU_FIELDS, p)
    for name in ("prompt", "invalid_prompt", "timeout_prompt"):
        if name in rec and (not isinstance(rec[name], str) or not PROMPT.match(rec[name])):
            raise ConfigError(f"{p}.{name}", "must be a prompt name (letters, digits, '-' or '_')")
    choices = rec.get("choices", {})
    if not isinstance(choices, dict):
        raise ConfigError(f"{p}.choices", "must map keys to destinations")
    kw = {}
    for name, (low, high) in {"timeout_s": (1, 60), "inter_digit_s": (0.5, 10)}.items():
        if name in rec:
            kw[name] = float(_number(rec[name], f"{p}.{name}", low, high))
    if "max_attempts" in rec:
        kw["max_attempts"] = _number(rec["max_attempts"], f"{p}.max_attempts", 1, 9, integer=True)
    for name in ("invalid_prompt", "timeout_prompt"):
        if name in rec:
            kw[name] = rec[name]
    menu = ivr.Menu(
        id=mid, prompt=rec.get("prompt", "welcome"),
        choices={k: _target(v, f"{p}.choices.{k}") for k, v in choices.items()},
        operator=_target(rec.get("operator"), f"{p}.operator"),
        failover=_target(rec["failover"], f"{p}.failover") if rec.get("failover") else None,
        extensions=frozenset(extensions) if rec.get("direct_dial", True) else frozenset(),
        **kw,
    )
    ivr.validate_menu(menu)
    return menu


def _time_condition(rec: dict) -> tc.TimeCondition:
    tid = rec.get("id")
    if not isinstance(tid, str) or not ID.match(tid):
        raise ConfigError("time_conditions.?.id", "must be 1-32 lowercase letters, digits, '-' or '_'")
    p = f"time_conditions.{tid}"
    _check_keys(rec, TC_FIELDS, p)
    tz = rec.get("timezone", "Asia/Shanghai")
    if not isinstance(tz, str):
        raise ConfigError(f"{p}.timezone", "must be a time zone name like Asia/Shanghai")
    hours = rec.get("hours", {})
    if not isinstance(hours, dict):
        raise ConfigError(f"{p}.hours", "must map days (mon..sun) to lists like '09:00-18:00'")
    weekly = tc.parse_hours(hours, field=f"{p}.hours")
    holidays = tc.HolidayCalendar(
        closed_days=tc.parse_dates(rec.get("holidays", []), f"{p}.holidays"),
        extra_workdays=tc.parse_dates(rec.get("extra_workdays", []), f"{p}.extra_workdays"),
        makeup_weekday=rec.get("makeup_weekday", 0))
    try:
        schedule = tc.Schedule(tz, weekly, holidays)
    except ConfigError as exc:
        raise ConfigError(f"{p}.{exc.field}", exc.message) from None
    override = rec.get("override")
    if override not in (None, "open", "closed"):
        raise ConfigError(f"{p}.override", "must be empty, open or closed")
    return tc.TimeCondition(tid, schedule, _target(rec.get("open"), f"{p}.open"),
                            _target(rec.get("closed"), f"{p}.closed"),
                            tc.Override(override) if override else None)


def build(document: dict) -> CallCenterConfig:
    """The call center objects of a config document; raises ConfigError."""
    extensions = {e["number"] for e in (document.get("extensions") or {}).values()}
    queues = {}
    for rec in (document.get("queues") or {}).values():
        q = _queue(rec, extensions)
        if q.id in queues:
            raise ConfigError(f"queues.{q.id}.id", "is used twice")
        queues[q.id] = q
    menus = {}
    for rec in (document.get("menus") or {}).values():
        m = _menu(rec, extensions)
        if m.id in menus:
            raise ConfigError(f"menus.{m.id}.id", "is used twice")
        menus[m.id] = m
    conditions = {}
    for rec in (document.get("time_conditions") or {}).values():
        t = _time_condition(rec)
        if t.id in conditions:
            raise ConfigError(f"time_conditions.{t.id}.id", "is used twice")
        conditions[t.id] = t
    routes = {}
    for rec in (document.get("routes") or {}).values():
        number = rec.get("number")
        if not isinstance(number, str) or not ROUTE_NUMBER.match(number):
            raise ConfigError("routes.?.number", "must be 2-20 digits")
        if number in routes or number in extensions:
            raise ConfigError(f"routes.{number}.number", "is already used by a route or an extension")
        _check_keys(rec, {"number", "target", "name"}, f"routes.{number}")
        routes[number] = _target(rec.get("target"), f"routes.{number}.target")

    mailboxes: dict[str, str | None] = {number: None for number in extensions}
    for rec in (document.get("voicemail") or {}).values():
        box = rec.get("id")
        if not isinstance(box, str) or not ID.match(box):
            raise ConfigError("voicemail.?.id", "must be 1-32 lowercase letters, digits, '-' or '_'")
        _check_keys(rec, {"id", "name", "pin"}, f"voicemail.{box}")
        pin = rec.get("pin")
        if pin is not None and (not isinstance(pin, str) or not pin.startswith("pbkdf2$")):
            raise ConfigError(f"voicemail.{box}.pin", "must be set with 'smallpbx voicemail pin'")
        mailboxes[box] = pin
    known = {TargetKind.MENU: set(menus), TargetKind.QUEUE: set(queues), TargetKind.EXTENSION: extensions,
             TargetKind.TIME_CONDITION: set(conditions), TargetKind.VOICEMAIL: set(mailboxes)}

    def check(target: Target | None, field: str) -> None:
        if target is not None and target.kind in known and target.ref not in known[target.kind]:
            raise ConfigError(field, f"points to {target}, which does not exist")

    for number, target in routes.items():
        check(target, f"routes.{number}.target")
    for mid, menu in menus.items():
        for key, target in menu.choices.items():
            check(target, f"menus.{mid}.choices.{key}")
        check(menu.operator, f"menus.{mid}.operator")
        check(menu.failover, f"menus.{mid}.failover")
    for qid, q in queues.items():
        check(q.failover, f"queues.{qid}.failover")
        check(q.exit_target, f"queues.{qid}.exit_target")
    for tid, cond in conditions.items():
        check(cond.open_target, f"time_conditions.{tid}.open")
        check(cond.closed_target, f"time_conditions.{tid}.closed")
    return CallCenterConfig(routes, menus, queues, conditions, mailboxes)
