"""Helpers for the web tests: the CSRF token of a page, posting a form like
a browser, the errors shown next to fields, the whole setup wizard, call
records, a stand-in core on the real control-socket protocol
(firmware.core.control.ControlServer), and the real box of tests/conftest.py.
"""
from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

from firmware.core.control import ControlServer
from firmware.errors import ControlError

ADMIN = ("owner", "Tea-shop-Key-42")
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def token(client, url: str = "/login") -> str:
    page = client.get(url, follow_redirects=True)
    match = TOKEN.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {url}: {page.status_code}"
    return match.group(1)


def post(client, url: str, data: dict | None = None, *, page: str | None = None, **kw):
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    form = dict(data or {})
    form["csrf_token"] = token(client, page or url)
    return client.post(url, data=form, **kw)


def field_errors(html: str) -> dict[str, list[str]]:
    """``{field name: [messages]}`` as shown next to the fields ('' = above the form)."""
    out: dict[str, list[str]] = {}
    for name, message in re.findall(r'<p class="error[^"]*" data-field="([^"]*)"[^>]*>(.*?)</p>', html, re.S):
        out.setdefault(name, []).append(message.strip())
    return out


class FakeCore:
    """Answers control commands like the core would; records what it was asked."""

    def __init__(self, path: Path):
        self.path = path
        self.requests: list[tuple[str, dict]] = []
        self.agents = {"201": {"extension": "201", "name": "Ann", "state": "available", "in_state_s": 12.0,
                               "pause_reason": None, "calls": 3, "talk_time_s": 180.0},
                       "202": {"extension": "202", "name": "Bo", "state": "on-call", "in_state_s": 40.0,
                               "pause_reason": None, "calls": 5, "talk_time_s": 300.0}}
        self.server = ControlServer(path, self.handle)
        self.lock = threading.Lock()
        # Calls the box places (firmware/core/service_calls.py): each "service-call" moves a job one
        # state along its kind's script; ``refuse[cmd]`` makes the core refuse a command.
        self.scripts = {"record-prompt": ["calling", "recording", "saving", "saved"],
                        "test-call": ["calling", "playing", "done"]}
        self.jobs: dict[str, dict] = {}
        self.refuse: dict[str, str] = {}
        self.restart_pending: str | None = None

    def handle(self, cmd: str, args: dict):
        with self.lock:
            self.requests.append((cmd, dict(args)))
        if cmd == "status":
            return {"calls": [{"id": 1, "direction": "inbound", "caller": "13800000000", "dialed": "600",
                               "app": "callcenter", "state": "up", "duration": 33.0}],
                    "capacity": {"engine_limit": 4, "limit": 4, "in_use": 1, "refused": 0, "refused_by_engine": 0},
                    "registrations": [{"user": "201", "contact": "sip:201@127.0.0.1:5099", "expires": 300,
                                       "user_agent": "test"}],
                    "proxy": "kamailio test", "pjsua": "2.15.1", "version": "0.1.0", "uptime": 99.0,
                    "callcenter": {
                        "queues": [{"id": "main", "strategy": "rrmemory", "waiting": 1, "longest_wait_s": 17.0,
                                    "callers": [{"call_id": "c1", "caller": "13900000000", "wait_s": 17.0,
                                                 "ringing": []}]}],
                        "agents": list(self.agents.values()),
                        "callers": [],
                        "today": [{"queue": "main", "offered": 9, "answered": 7, "abandoned": 2, "timeouts": 0,
                                   "exit_key": 0, "no_agents": 0, "service_level": 0.8571,
                                   "service_level_with_abandons": 0.6667, "service_level_threshold_s": 15.0,
                                   "average_speed_of_answer_s": 8.2, "average_talk_time_s": 95.0,
                                   "abandon_rate": 0.2222}]},
                    "restart_pending": self.restart_pending}
        if cmd == "restart":         # firmware/core/daemon.py: idle waits for the last call
            when = args.get("when")
            if when not in ("idle", "now", "cancel"):
                raise ControlError(f"when must be one of idle, now, cancel, not {when!r}")
            was, self.restart_pending = self.restart_pending, "idle" if when == "idle" else None
            return {"restart": None if when == "cancel" else when, "cancelled": when == "cancel" and was is not None}
        if cmd == "reload":
            return {"reloaded": True}
        if cmd == "panel":
            import base64
            import io

            from PIL import Image
            buf = io.BytesIO()
            Image.new("L", (128, 64), 0).save(buf, format="PNG")
            return {"page": "queue", "leds": {"agents": "on", "waiting": "fast", "fault": "off"}, "display": True,
                    "png_base64": base64.b64encode(buf.getvalue()).decode()}
        if cmd.startswith("agent-"):
            ext = str(args.get("extension"))
            if ext not in self.agents:
                raise ControlError(f"{ext} is not an agent of any queue")
            new = {"login": "available", "logout": "logged-out", "pause": "paused", "unpause": "available"}
            self.agents[ext]["state"] = new[cmd.split("-", 1)[1]]
            return {"extension": ext, "state": self.agents[ext]["state"]}
        if cmd == "override":
            return {"id": args.get("id"), "override": args.get("mode") or "auto"}
        if cmd in self.refuse:
            raise ControlError(self.refuse[cmd])
        if cmd in ("record-prompt", "test-call"):
            with self.lock:
                job = {"id": f"{cmd}-{len(self.jobs) + 1}", "kind": cmd, "state": self.scripts[cmd][0],
                       "target": args.get("extension") if cmd == "record-prompt" else args.get("number"),
                       "name": args.get("name", ""), "language": args.get("language", ""),
                       "line": args.get("line", ""), "step": 0}
                self.jobs[job["id"]] = job
            return {k: v for k, v in job.items() if k != "step"}
        if cmd == "service-call":
            with self.lock:
                job = self.jobs.get(str(args.get("id")))
                if job is None:
                    raise ControlError(f"no such job {args.get('id')!r}")
                script = self.scripts[job["kind"]]
                job["step"] = min(job["step"] + 1, len(script) - 1)
                job["state"] = script[job["step"]]
                return {k: v for k, v in job.items() if k != "step"}
        raise ControlError(f"unknown command '{cmd}'")

    def commands(self) -> list[str]:
        with self.lock:
            return [c for c, _ in self.requests]


def create_admin(client, username: str = ADMIN[0], password: str = ADMIN[1]):
    response = post(client, "/setup/password", {"username": username, "password": password, "confirm": password})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    return response


def run_wizard(client, *, extensions=(("201", "Ann"), ("202", "Bo")), web_login=True) -> dict:
    """The whole wizard as an owner clicks through it; returns the passwords shown."""
    shown = {"sip": {}, "web": {}}
    create_admin(client)
    r = post(client, "/setup/region", {"language": "zh_CN", "timezone": "Asia/Shanghai"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/setup/line"), r.get_data(as_text=True)[:500]
    r = post(client, "/setup/line", {})
    assert r.headers["Location"].endswith("/setup/extensions")
    for number, name in extensions:
        form = {"number": number, "name": name}
        if web_login:
            form["web_login"] = "y"
        r = post(client, "/setup/extensions", form)
        html = r.get_data(as_text=True)
        assert r.status_code == 201, field_errors(html)
        shown["sip"][number] = re.search(r'class="sip-password">([^<]+)<', html).group(1)
        if web_login:
            shown["web"][number] = re.search(r'class="web-password">([^<]+)<', html).group(1)
    r = post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    assert r.headers["Location"].endswith("/setup/hours")
    r = post(client, "/setup/hours", {"mon": "09:00-12:00, 13:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00",
                                      "thu": "09:00-18:00", "fri": "09:00-18:00", "sat": "10:00-16:00", "sun": "",
                                      "holidays": "2026-10-01\n2026-10-02", "extra_workdays": "2026-09-27",
                                      "closed": "announcement"})
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    r = post(client, "/setup/greeting", {"mode": "default"})
    assert r.headers["Location"].endswith("/setup/queue"), field_errors(r.get_data(as_text=True))
    r = post(client, "/setup/queue", {"name": "Sales", "strategy": "leastrecent",
                                      "members": [n for n, _ in extensions], "ring_timeout_s": "15",
                                      "wrapup_s": "5", "recording": "never", "route_number": "600"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/"), field_errors(r.get_data(as_text=True))
    return shown


def login(client, username: str, password: str, **kw):
    return post(client, "/login", {"username": username, "password": password}, **kw)


def add_call(data_dir: Path, uid: str, agent: str, caller: str, arrived: float, *, answered: bool = True):
    """A call record as the core writes it (firmware.records.store schema)."""
    from firmware.records.store import RecordStore
    from firmware.telephony.cdr import CallRecord, Disposition
    rec = CallRecord(uid=uid, arrived=arrived, caller=caller, line="", route="600", queue="main")
    rec.agent = agent
    rec.queue_entered = arrived + 2
    rec.answered = arrived + 10 if answered else None
    rec.ended = arrived + 70
    rec.disposition = Disposition.ANSWERED if answered else Disposition.ABANDONED_QUEUE
    with RecordStore(data_dir / "records.db") as store:
        store.add_call(rec)


def records_count(data_dir: Path) -> int:
    db = sqlite3.connect(data_dir / "records.db")
    try:
        return db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    finally:
        db.close()


def box_helpers():
    """``start_box``/``stop_box`` (Kamailio + core on loopback) from tests/boxtools.py."""
    import boxtools
    return boxtools
