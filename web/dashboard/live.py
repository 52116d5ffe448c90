"""The live picture the dashboard shows, for one user.

Asks the core for ``status`` over the control socket; when the core is not
reachable it says so and shows what the configuration and the call records
know (agents without their state, today's numbers from the records).

An agent sees only its own status and its own calls; the admin sees all.
"""
from __future__ import annotations

from datetime import datetime, time as dtime, timedelta

from firmware.errors import ControlError
from web.auth.users import User
from web.box import Box, get_calllog


def day_bounds(box: Box, day: str | None = None) -> tuple[float, float]:
    """Start and end (epoch seconds) of a day in the shop's time zone; today if None."""
    zone = box.state.zone()
    date = datetime.strptime(day, "%Y-%m-%d").date() if day else box.state.now().date()
    start = datetime.combine(date, dtime(0, 0), tzinfo=zone)
    end = datetime.combine(date + timedelta(days=1), dtime(0, 0), tzinfo=zone)
    return start.timestamp(), end.timestamp()


def core_status(box: Box) -> tuple[dict | None, dict]:
    try:
        status = box.core("status")
    except ControlError as exc:
        return None, {"reachable": False, "error": str(exc)}
    return status, {"reachable": True, "version": status.get("version"), "uptime_s": status.get("uptime"),
                    "proxy": status.get("proxy"), "pjsua": status.get("pjsua"),
                    "calls_up": len(status.get("calls") or []), "restart_pending": status.get("restart_pending")}


def _queue_names(tables: dict) -> dict[str, str]:
    return {q["id"]: q.get("name") or q["id"] for q in tables["queues"]}


def collect(box: Box, user: User) -> dict:
    status, core = core_status(box)
    since, until = day_bounds(box)
    center = (status or {}).get("callcenter") or {}
    if not user.is_admin:
        return _for_agent(box, user, status, core, center, since, until)
    tables = box.store.callcenter_tables()
    names = _queue_names(tables)
    extensions = {e["number"]: e.get("name", "") for e in box.store.extensions()}
    members = sorted({m for q in tables["queues"] for m in q.get("members", [])})
    if status is not None:
        # The core lists agents once they logged in; the other queue members are logged out.
        agents = [{**a, "name": a.get("name") or extensions.get(a.get("extension"), "")}
                  for a in center.get("agents", [])]
        known = {a.get("extension") for a in agents}
        agents += [{"extension": m, "name": extensions.get(m, ""), "state": "logged-out", "in_state_s": None,
                    "pause_reason": None, "calls": 0, "talk_time_s": 0.0} for m in members if m not in known]
        agents.sort(key=lambda a: a.get("extension", ""))
        queues = [{**q, "name": names.get(q["id"], q["id"])} for q in center.get("queues", [])]
        today = center.get("today", [])
    else:
        agents = [{"extension": m, "name": extensions.get(m, ""), "state": None} for m in members]
        queues = [{"id": q["id"], "name": names[q["id"]], "strategy": q.get("strategy", "rrmemory"),
                   "waiting": None, "longest_wait_s": None, "callers": []} for q in tables["queues"]]
        today = get_calllog().today_by_queue(since, until)
    for row in today:
        row["name"] = names.get(row.get("queue"), row.get("queue"))
    registrations = (status or {}).get("registrations")
    return {
        "role": "admin",
        "core": core,
        "lines": (status or {}).get("lines", []),
        "capacity": (status or {}).get("capacity"),
        "calls": (status or {}).get("calls", []),
        "agents": agents,
        "queues": queues,
        "callers": center.get("callers", []),
        "today": today,
        "registrations": None if registrations is None else [r.get("user") for r in registrations],
        "extensions": len(extensions),
        "time_conditions": [{"id": t["id"], "override": t.get("override")} for t in tables["time_conditions"]],
    }


def _for_agent(box: Box, user: User, status, core, center, since, until) -> dict:
    me = next((a for a in center.get("agents", []) if a.get("extension") == user.extension), None)
    if me is None:
        member = any(user.extension in q.get("members", []) for q in box.store.callcenter_tables()["queues"])
        state = None if status is None else "logged-out" if member else "not-a-member"
        me = {"extension": user.extension, "state": state}
    calls = get_calllog().calls(since, until, agent=user.extension, limit=200)
    answered = [c for c in calls if c.get("answered") is not None]
    return {
        "role": "agent",
        "core": {"reachable": core["reachable"]},
        "me": me,
        "today": {"calls": len(calls), "answered": len(answered),
                  "talk_time_s": round(sum(c.get("talk_s") or 0 for c in answered), 1)},
        "calls": [public_call(c) for c in calls],
    }


def public_call(rec: dict) -> dict:
    """What a call record shows on a page (no offers of other agents)."""
    return {k: rec.get(k) for k in ("uid", "arrived", "caller", "line", "queue", "answered", "ended", "agent",
                                    "wait_s", "talk_s", "disposition")}
