"""Call records, the queue event log, texts and line events, in one sqlite file.

One writer: the core. Readers (status, web page, reports) open their own
connections; WAL mode lets them read while the core writes. Durability:
``synchronous=FULL`` in WAL mode, so a committed record survives a power
cut; a kill -9 mid-write loses at most that record, never the file.

Threads in the core: the owner thread writes records, control threads read
them, and a GSM line's modem worker saves the parts of texts it takes off
the SIM (``sms_parts``, see :mod:`firmware.lines.sms_journal`). They share
one connection behind one lock, so statements never interleave and a
transaction holds the lock from BEGIN to COMMIT.

Appending costs the same with ten records or a million: rows go to the
end of an integer primary key, and every index is a B-tree on time or
caller (``bench/records.py`` measures it).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from firmware.telephony.cdr import CallRecord
from firmware.telephony.queues import QueueEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    arrived REAL NOT NULL,
    caller TEXT NOT NULL,
    line TEXT NOT NULL,
    route TEXT NOT NULL,
    ivr_choices TEXT NOT NULL,
    queue TEXT NOT NULL,
    queue_entered REAL,
    answered REAL,
    ended REAL,
    agent TEXT NOT NULL,
    offers TEXT NOT NULL,
    wait_s REAL,
    talk_s REAL,
    wrapup_s REAL NOT NULL,
    disposition TEXT NOT NULL,
    recording TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_arrived ON calls(arrived);
CREATE INDEX IF NOT EXISTS calls_caller ON calls(caller, arrived);
CREATE INDEX IF NOT EXISTS calls_agent ON calls(agent, arrived);
CREATE TABLE IF NOT EXISTS queue_log (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    queue TEXT NOT NULL,
    call_uid TEXT NOT NULL,
    agent TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_log_time ON queue_log(queue, time);
CREATE TABLE IF NOT EXISTS sms (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    line TEXT NOT NULL,
    direction TEXT NOT NULL,      -- in | out
    number TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL,         -- received | queued | sent | failed: why
    network_time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_time ON sms(time);
CREATE TABLE IF NOT EXISTS sms_parts (   -- taken off a SIM, not yet in a whole text in sms
    id INTEGER PRIMARY KEY,
    line TEXT NOT NULL,
    received REAL NOT NULL,       -- wall clock, when read off the SIM
    sender TEXT NOT NULL,
    ref_bits INTEGER NOT NULL,    -- 8 | 16; 0: a text in one part
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text BLOB NOT NULL,           -- UTF-8 that may hold half a surrogate pair (surrogatepass)
    sent_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sms_parts_line ON sms_parts(line, id);
CREATE TABLE IF NOT EXISTS line_events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    line TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS line_events_time ON line_events(time);
"""
# Columns added after the first release: (table, column, definition).
MIGRATIONS = (("calls", "dialed", "TEXT NOT NULL DEFAULT ''"),)


class RecordStore:
    """The box's call records. Thread-safe; one instance per process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> "RecordStore":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        for table, column, definition in MIGRATIONS:
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        self._db = db
        return self

    def close(self) -> None:
        with self._lock:            # not under a statement another thread is running
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open_db(self) -> sqlite3.Connection:
        """The connection; a closed store raises sqlite3's own error (a
        modem thread may still write while the core shuts down)."""
        if self._db is None:
            raise sqlite3.ProgrammingError(f"{self.path.name} is closed")
        return self._db

    @contextmanager
    def _transaction(self):
        """The connection, under the lock, in one write transaction (it
        autocommits otherwise): all of it is committed, or none."""
        with self._lock:
            db = self._open_db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _dicts(self, sql: str, args: tuple) -> list[dict]:
        """The rows of a query as dicts keyed by column name."""
        with self._lock:
            cur = self._open_db().execute(sql, args)
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()

    def add_call(self, rec: CallRecord) -> int:
        row = (
            rec.uid, rec.arrived, rec.caller, rec.line, rec.route, json.dumps(rec.ivr_choices),
            rec.queue, rec.queue_entered, rec.answered, rec.ended, rec.agent,
            json.dumps([o.__dict__ for o in rec.offers]), rec.wait_s, rec.talk_s, rec.wrapup_s,
            rec.disposition.value, rec.recording, rec.dialed,
        )
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO calls (uid, arrived, caller, line, route, ivr_choices, queue, queue_entered,"
                " answered, ended, agent, offers, wait_s, talk_s, wrapup_s, disposition, recording, dialed)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            return cur.lastrowid

    def log_queue_event(self, event: QueueEvent) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO queue_log (time, queue, call_uid, agent, event, data) VALUES (?,?,?,?,?,?)",
                (event.time, event.queue, event.call_id, event.agent, event.event, json.dumps(event.data)))

    def queue_events(self, queue: str, since: float) -> list[QueueEvent]:
        """Events of one queue since a time (e.g. midnight, to rebuild today's numbers)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, queue, call_uid, agent, event, data FROM queue_log"
                " WHERE queue = ? AND time >= ? ORDER BY id", (queue, since)).fetchall()
        return [QueueEvent(t, q, c, a, e, json.loads(d)) for t, q, c, a, e, d in rows]

    def last_agent(self, caller: str, since: float) -> str | None:
        """The agent who last answered this caller since a time (sticky agent)."""
        with self._lock:
            row = self._db.execute(
                "SELECT agent FROM calls WHERE caller = ? AND arrived >= ? AND agent != ''"
                " AND answered IS NOT NULL ORDER BY arrived DESC LIMIT 1", (caller, since)).fetchone()
        return row[0] if row else None

    def calls(self, since: float, until: float, *, caller: str | None = None,
              agent: str | None = None, limit: int = 500) -> list[dict]:
        sql = "SELECT * FROM calls WHERE arrived >= ? AND arrived < ?"
        args: list = [since, until]
        if caller:
            sql += " AND caller = ?"
            args.append(caller)
        if agent:
            sql += " AND agent = ?"
            args.append(agent)
        sql += " ORDER BY arrived DESC LIMIT ?"
        args.append(int(limit))
        out = self._dicts(sql, tuple(args))
        for d in out:
            d["ivr_choices"] = json.loads(d["ivr_choices"])
            d["offers"] = json.loads(d["offers"])
        return out

    # -- text messages and line events --------------------------------------------
    def add_sms(self, when: float, line: str, direction: str, number: str, text: str,
                status: str, network_time: str = "", *, parts: Iterable[int] = ()) -> int | None:
        """Store a text; its row id.

        :param parts: the ``sms_parts`` rows it was joined from, deleted in
            the same transaction. If none of them is left, the text is stored
            already (given out again after a restart): nothing is added and
            the result is None.
        """
        parts = list(parts)
        row = (when, line, direction, number, text, status, network_time)
        insert = ("INSERT INTO sms (time, line, direction, number, text, status, network_time)"
                  " VALUES (?,?,?,?,?,?,?)")
        if not parts:
            with self._lock:
                return self._open_db().execute(insert, row).lastrowid
        with self._transaction() as db:
            removed = sum(db.execute("DELETE FROM sms_parts WHERE id = ?", (p,)).rowcount for p in parts)
            return db.execute(insert, row).lastrowid if removed else None

    def add_sms_part(self, line: str, received: float, sender: str, ref_bits: int, ref: int,
                     total: int, seq: int, text: bytes, sent_at: str) -> int:
        """Keep one part taken off a SIM (committed on return); its row id."""
        with self._lock:
            return self._open_db().execute(
                "INSERT INTO sms_parts (line, received, sender, ref_bits, ref, total, seq, text, sent_at)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (line, received, sender, ref_bits, ref, total, seq, text, sent_at)).lastrowid

    def sms_parts(self, line: str) -> list[dict]:
        """A line's kept parts, oldest row first."""
        return self._dicts("SELECT * FROM sms_parts WHERE line = ? ORDER BY id", (line,))

    def forget_sms_parts(self, ids: Iterable[int]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM sms_parts WHERE id = ?", [(i,) for i in ids])

    def set_sms_status(self, sms_id: int, status: str) -> None:
        with self._lock:
            self._db.execute("UPDATE sms SET status = ? WHERE id = ?", (status, sms_id))

    def sms(self, since: float = 0.0, limit: int = 200) -> list[dict]:
        return self._dicts("SELECT * FROM sms WHERE time >= ? ORDER BY id DESC LIMIT ?", (since, int(limit)))

    def add_line_event(self, when: float, line: str, state: str, detail: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO line_events (time, line, state, detail) VALUES (?,?,?,?)",
                             (when, line, state, detail))

    def line_events(self, since: float = 0.0, limit: int = 200) -> list[dict]:
        return self._dicts("SELECT * FROM line_events WHERE time >= ? ORDER BY id DESC LIMIT ?",
                           (since, int(limit)))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
