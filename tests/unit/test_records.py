import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from firmware.records.store import RecordStore
from firmware.telephony.cdr import CallRecord, Disposition, Offer
from firmware.telephony.queues import QueueEvent

ROOT = Path(__file__).resolve().parents[2]


def record(uid, arrived, caller="13800000000", agent="201", answered=True):
    return CallRecord(
        uid=uid, arrived=arrived, caller=caller, line="gsm1", route="menu:main", ivr_choices=["1"],
        queue="sales", queue_entered=arrived + 5, answered=arrived + 12 if answered else None,
        ended=arrived + 72, agent=agent if answered else "",
        offers=[Offer("202", arrived + 6, "noanswer"), Offer(agent, arrived + 11, "answered")],
        disposition=Disposition.ANSWERED if answered else Disposition.ABANDONED_QUEUE)


def test_a_record_reads_back_field_by_field(tmp_path):
    with RecordStore(tmp_path / "records.db") as store:
        store.add_call(record("c1", 1000.0))
        [row] = store.calls(0, 2000)
    assert row["uid"] == "c1" and row["caller"] == "13800000000" and row["line"] == "gsm1"
    assert row["ivr_choices"] == ["1"] and row["queue"] == "sales"
    assert row["wait_s"] == 7.0 and row["talk_s"] == 60.0
    assert row["offers"][0] == {"agent": "202", "at": 1006.0, "outcome": "noanswer"}
    assert row["disposition"] == "answered"


def test_abandoned_call_waits_until_it_left(tmp_path):
    rec = record("c2", 0.0, answered=False)
    assert rec.wait_s == 67.0 and rec.talk_s is None


def test_last_agent_for_sticky_routing(tmp_path):
    with RecordStore(tmp_path / "records.db") as store:
        store.add_call(record("a", 100.0, agent="201"))
        store.add_call(record("b", 200.0, agent="203"))
        store.add_call(record("c", 300.0, answered=False))
        store.add_call(record("d", 250.0, caller="other", agent="202"))
        assert store.last_agent("13800000000", since=0) == "203"
        assert store.last_agent("13800000000", since=250) is None
        assert store.last_agent("unknown", since=0) is None


def test_queue_log_round_trip(tmp_path):
    with RecordStore(tmp_path / "records.db") as store:
        store.log_queue_event(QueueEvent(10.0, "sales", "c1", "", "ENTERQUEUE", {"caller": "x", "position": 1}))
        store.log_queue_event(QueueEvent(14.0, "sales", "c1", "201", "CONNECT", {"wait": 4.0}))
        store.log_queue_event(QueueEvent(15.0, "other", "c2", "", "ENTERQUEUE", {}))
        events = store.queue_events("sales", since=12)
    assert events == [QueueEvent(14.0, "sales", "c1", "201", "CONNECT", {"wait": 4.0})]


WRITER = """
import sys, time
from firmware.records.store import RecordStore
from firmware.telephony.cdr import CallRecord
store = RecordStore(sys.argv[1]).open()
i = int(sys.argv[2])
while True:
    i += 1
    store.add_call(CallRecord(uid=f"c{i}", arrived=float(i), caller="x", line="sip"))
    print(i, flush=True)
"""


def test_records_survive_kill_9(tmp_path):
    path = tmp_path / "records.db"
    last = 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(15):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(last)],
                                stdout=subprocess.PIPE, text=True, env=env)
        first = proc.stdout.readline()
        time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported = int(([first] + out.splitlines())[-1] if out.strip() else first)
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        db.close()
        # Every reported (committed) record is there; at most one more.
        assert count in (reported, reported + 1), (count, reported)
        last = count
