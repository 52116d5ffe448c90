"""Cost of writing one call record with 1k and with 1M records already stored.

Prints: record_write_us at_1k median=.. p99=.. / at_1M median=.. p99=..
Each write is one committed transaction with synchronous=FULL (what the
core does); the store is filled first with one bulk transaction.

Usage: .venv/bin/python bench/records.py [--big 1000000] [--samples 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware.records.store import RecordStore  # noqa: E402
from firmware.telephony.cdr import CallRecord, Disposition  # noqa: E402


def fill(store: RecordStore, count: int, start: int) -> None:
    rows = []
    for i in range(start, start + count):
        rows.append((f"bulk{i}", float(i), f"1380000{i % 10000:04d}", "gsm1", "menu:main", "[]", "sales",
                     float(i) + 5, float(i) + 12, float(i) + 70, f"20{i % 3 + 1}", "[]", 7.0, 58.0, 10.0,
                     "answered", ""))
    db = store._db
    db.execute("BEGIN")
    db.executemany("INSERT INTO calls (uid, arrived, caller, line, route, ivr_choices, queue, queue_entered,"
                   " answered, ended, agent, offers, wait_s, talk_s, wrapup_s, disposition, recording)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.execute("COMMIT")


def measure(store: RecordStore, samples: int, tag: str) -> list[float]:
    times = []
    for i in range(samples):
        rec = CallRecord(uid=f"{tag}{i}", arrived=2e9 + i, caller="13800000000", line="gsm1", queue="sales",
                         queue_entered=2e9 + i + 5, answered=2e9 + i + 9, ended=2e9 + i + 60, agent="201",
                         disposition=Disposition.ANSWERED)
        started = time.perf_counter()
        store.add_call(rec)
        times.append((time.perf_counter() - started) * 1e6)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    return f"median={statistics.median(ordered):.0f} p99={ordered[int(0.99 * (len(ordered) - 1))]:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smallpbx-records-") as tmp:
        store = RecordStore(Path(tmp) / "records.db").open()
        fill(store, 1000, 0)
        small = measure(store, args.samples, "s")
        fill(store, args.big - store.count(), 10_000)
        big = measure(store, args.samples, "b")
        print(f"record_write_us at_1k {summary(small)}  at_{store.count() // 1000}k {summary(big)}"
              f"  (one committed insert, synchronous=FULL, {args.samples} samples)")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
