"""Latency of the dashboard's and the call history's API with 100,000 call records.

Builds a box data directory (five extensions, the wizard's call center, an
admin) whose ``records.db`` holds ``--calls`` calls over the last year and
their queue_log events, written with ``RecordStore`` in one transaction;
serves the web app with waitress on 127.0.0.1 (a free port), logs in, and
times requests over one kept-alive connection:

- ``GET /api/status`` (what the dashboard polls every 2 s) with the core
  down (today's numbers then come from the records), and with a stand-in
  core on the control socket answering ``status`` with calls in progress;
- ``GET /api/history`` as the page opens it (the last 7 days) and with
  filters over the whole year;
- ``GET /api/reports`` (the last 28 days, and a whole year).

It prints sqlite's plan for each history query (which index it walks) and,
per URL, the median and p99 in milliseconds. Bounded: about a minute.

Usage: .venv/bin/python bench/dashboard_api.py [--calls 100000] [--requests 200]
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware.config import extensions as ext_api  # noqa: E402
from firmware.config.store import ConfigStore  # noqa: E402
from firmware.core.control import ControlServer  # noqa: E402
from firmware.records.store import RecordStore  # noqa: E402
from firmware.telephony.cdr import CallRecord, Disposition, Offer  # noqa: E402
from firmware.telephony.queues import QueueEvent  # noqa: E402
from web.auth.users import UserStore  # noqa: E402
from web.calllog import CallLog, CallQuery  # noqa: E402
from web.server import make_server, stop  # noqa: E402
from web.state import WebState  # noqa: E402
from web.wizard import plan  # noqa: E402

ZONE = "Asia/Shanghai"
ADMIN = ("owner", "Tea-shop-Key-42")
AGENTS = (("201", "Ann"), ("202", "Bo"), ("203", "Cai"), ("204", "Dong"), ("205", "Fang"))


def make_box(data: Path) -> None:
    """A box as the wizard leaves it: extensions, the call center, an admin, the time zone."""
    (data / "web").mkdir(mode=0o700, parents=True)
    store = ConfigStore(data).open()
    for number, name in AGENTS:
        ext_api.add(store, number, name)
    plan.apply(store, {"queue": {"name": "Sales"}}, ZONE)
    users = UserStore(data / "web" / "users.json")
    users.prepare()
    users.create_first_admin(*ADMIN)
    state = WebState(data / "web" / "state.json")
    state.prepare()
    state.set_timezone(ZONE)
    state.finish_wizard()


def fill(path: Path, count: int, seed: int = 1) -> tuple[int, float]:
    """``count`` calls spread over the last 365 days (business hours), newest ending now; and their events."""
    rnd = random.Random(seed)
    now = time.time()
    start = now - 365 * 86400
    callers = [f"1{rnd.randint(3, 9)}{rnd.randint(0, 999_999_999):09d}" for _ in range(5000)]
    zone = ZoneInfo(ZONE)
    events = 0
    began = time.perf_counter()
    with RecordStore(path) as store:
        db = store._db                        # one transaction for the bulk load (the core commits each call)
        db.execute("BEGIN")
        for i in range(count):
            t = start + (now - start - 600) * i / count
            local = datetime.fromtimestamp(t, zone)
            t += (9 + (local.hour % 9) - local.hour) * 3600 if not 9 <= local.hour < 18 else 0
            t = min(t, now - 60)
            uid = f"{int(t)}-{i}"
            agent = AGENTS[rnd.randrange(len(AGENTS))][0]
            wait = round(rnd.expovariate(1 / 14), 1)
            rec = CallRecord(uid=uid, arrived=t, caller=rnd.choice(callers), line="gsm1", route="600",
                             ivr_choices=["1"], queue="main", queue_entered=t + 8)
            qlog = [QueueEvent(t + 8, "main", uid, "", "ENTERQUEUE", {"caller": rec.caller, "position": 1})]
            if rnd.random() < 0.08:
                other = AGENTS[rnd.randrange(len(AGENTS))][0]
                rec.offers.append(Offer(other, t + 9, "noanswer"))
                qlog.append(QueueEvent(t + 24, "main", uid, other, "RINGNOANSWER", {"reason": "timeout"}))
            if wait > 60 or rnd.random() < 0.07:
                rec.ended = t + 8 + wait
                rec.disposition = Disposition.ABANDONED_QUEUE
                qlog.append(QueueEvent(rec.ended, "main", uid, "", "ABANDON", {"position": 1, "wait": wait}))
            else:
                talk = round(rnd.uniform(20, 600), 1)
                rec.agent, rec.answered, rec.wrapup_s = agent, t + 8 + wait, 10.0
                rec.ended = rec.answered + talk
                rec.offers.append(Offer(agent, rec.answered - 2, "answered"))
                rec.disposition = Disposition.ANSWERED
                rec.recording = f"{local:%Y-%m-%d}/{uid}.wav" if rnd.random() < 0.3 else ""
                qlog += [QueueEvent(rec.answered, "main", uid, agent, "CONNECT", {"wait": wait}),
                         QueueEvent(rec.ended, "main", uid, agent, "COMPLETECALLER", {"talk": talk})]
            store.add_call(rec)
            for event in qlog:
                store.log_queue_event(event)
            events += len(qlog)
        db.execute("COMMIT")
    return events, time.perf_counter() - began


class StandInCore:
    """Answers ``status`` on the control socket like a core with calls in progress."""

    def __init__(self, path: Path):
        self.server = ControlServer(path, self.handle)

    @staticmethod
    def handle(cmd: str, args: dict):
        if cmd != "status":
            raise ValueError(f"unknown command {cmd!r}")
        calls = [{"id": n, "direction": "inbound", "caller": f"1380000000{n}", "dialed": "600", "app": "callcenter",
                  "state": "up", "duration": 30.0 + n} for n in range(3)]
        waiting = [{"call_id": f"w{n}", "caller": f"1390000000{n}", "wait_s": 5.0 * n, "ringing": ["201"]}
                   for n in range(2)]
        return {"calls": calls,
                "capacity": {"engine_limit": 4, "limit": 4, "in_use": 3, "refused": 0, "refused_by_engine": 0},
                "registrations": [{"user": n, "contact": f"sip:{n}@127.0.0.1", "expires": 300, "user_agent": "x"}
                                  for n, _ in AGENTS],
                "proxy": "stand-in", "pjsua": "stand-in", "version": "bench", "uptime": 100.0,
                "lines": [{"name": "gsm1", "state": "in-call"}],
                "callcenter": {
                    "queues": [{"id": "main", "strategy": "rrmemory", "waiting": 2, "longest_wait_s": 5.0,
                                "callers": waiting}],
                    "agents": [{"extension": n, "name": name, "state": "on-call" if i < 3 else "available",
                                "in_state_s": 30.0, "pause_reason": None, "calls": 12, "talk_time_s": 900.0}
                               for i, (n, name) in enumerate(AGENTS)],
                    "callers": [],
                    "today": [{"queue": "main", "offered": 120, "answered": 110, "abandoned": 10,
                               "service_level": 0.8, "abandon_rate": 0.08}]}}


class Client:
    """One kept-alive HTTP connection with the session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, url: str, body: str | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, url, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        return response.status, data

    def login(self) -> None:
        status, page = self.request("GET", "/login")
        csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode({"csrf_token": csrf, "username": ADMIN[0], "password": ADMIN[1]})
        status, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, f"login failed: {status}"


def timed(client: Client, url: str, n: int) -> tuple[float, float, bytes]:
    for _ in range(5):                                             # warm-up: connection, caches
        status, body = client.request("GET", url)
        assert status == 200, (url, status, body[:200])
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        status, body = client.request("GET", url)
        samples.append((time.perf_counter() - t) * 1000)
        assert status == 200, (url, status)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))], body


def plans(db_path: Path, year_ago: float) -> list[tuple[str, str]]:
    now = time.time()
    log = CallLog(db_path)
    out = [(label, " / ".join(log.history_plan(q))) for label, q in (
        ("history, 7 days", CallQuery(now - 7 * 86400, now)),
        ("history, agent", CallQuery(year_ago, now, agent="201")),
        ("history, number", CallQuery(year_ago, now, number="1234")),
        ("history, queue+result", CallQuery(year_ago, now, queue="main", disposition="abandoned-in-queue")))]
    log.close()
    db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    rows = db.execute("EXPLAIN QUERY PLAN SELECT queue, COUNT(*) FROM calls WHERE arrived >= ? AND arrived < ?"
                      " AND queue != '' GROUP BY queue", (now - 86400, now)).fetchall()   # CallLog.today_by_queue
    out.append(("status, today by queue", " / ".join(r[-1] for r in rows)))
    rows = db.execute("EXPLAIN QUERY PLAN SELECT time, event, data FROM queue_log WHERE queue = ? AND time >= ?"
                      " AND time < ? ORDER BY time", ("main", now - 28 * 86400, now)).fetchall()  # CallLog.queue_events
    out.append(("reports, queue_log", " / ".join(r[-1] for r in rows)))
    db.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    n = max(args.requests, 200)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smallpbx-dash-") as tmp:
        data = Path(tmp) / "data"
        make_box(data)
        events, seconds = fill(data / "records.db", args.calls)
        print(f"records: {args.calls} calls + {events} queue_log events written in {seconds:.1f} s "
              f"({(data / 'records.db').stat().st_size / 1e6:.0f} MB)")
        year_ago_day = (datetime.now(ZoneInfo(ZONE)) - timedelta(days=364)).date().isoformat()
        year_ago = time.time() - 366 * 86400
        for label, text in plans(data / "records.db", year_ago):
            print(f"plan  {label:24s} {text}")

        sock = Path(tmp) / "core.sock"
        server = make_server(data, "127.0.0.1", 0, control_socket=sock, config={"CONTROL_TIMEOUT_S": 1.0})
        thread = threading.Thread(target=server.run, name="waitress", daemon=True)
        thread.start()
        client = Client(server.effective_port)
        try:
            client.login()
            urls = [
                ("/api/status", n),
                ("/api/history", n),
                (f"/api/history?from={year_ago_day}", n),
                (f"/api/history?from={year_ago_day}&agent=201", n),
                (f"/api/history?from={year_ago_day}&number=1234", n),
                (f"/api/history?from={year_ago_day}&queue=main&disposition=abandoned-in-queue", n),
                (f"/api/history?from={year_ago_day}&page=200", n),
                ("/api/reports", 50),
                (f"/api/reports?from={year_ago_day}", 5),
            ]
            print(f"core down ({n} requests per URL; reports fewer):")
            for url, count in urls:
                median, p99, body = timed(client, url, count)
                extra = ""
                if url.startswith("/api/history"):
                    extra = f"  total={json.loads(body)['total']}"
                elif url == "/api/status":
                    today = json.loads(body)["today"]
                    extra = f"  today={today[0]['offered'] if today else 0} calls from records"
                print(f"  GET {url:70s} median={median:6.1f} ms  p99={p99:6.1f} ms{extra}")
            core = StandInCore(sock)
            core.server.start()
            try:
                print("stand-in core answering status with 3 calls in progress, 2 callers waiting:")
                for url in ("/api/status", "/api/history"):
                    median, p99, body = timed(client, url, n)
                    extra = f"  core.reachable={json.loads(body)['core']['reachable']}" if url == "/api/status" else ""
                    print(f"  GET {url:70s} median={median:6.1f} ms  p99={p99:6.1f} ms{extra}")
            finally:
                core.server.close()
        finally:
            client.conn.close()
            stop(server)
            thread.join(5)
    print(f"done in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
