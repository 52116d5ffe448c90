"""Read-only view of the call records (``DATA/records.db``, written by the core).

The web never writes there: it opens sqlite read-only (``mode=ro``), so a
missing file stays missing and the core stays the one writer. Used for an
agent's own calls and for today's numbers when the core is not running,
and for the call history, recordings and reports pages.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("uid", "arrived", "caller", "line", "route", "ivr_choices", "queue", "queue_entered", "answered",
           "ended", "agent", "offers", "wait_s", "talk_s", "wrapup_s", "disposition", "recording")
ABANDONED = ("abandoned-in-queue", "abandoned-in-ivr")


class CallLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self.path.exists():
                return None
            try:
                self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=2)
            except sqlite3.Error:
                return None
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def calls(self, since: float, until: float, *, agent: str | None = None, limit: int = 200) -> list[dict]:
        db = self._conn()
        if db is None:
            return []
        sql = f"SELECT {', '.join(COLUMNS)} FROM calls WHERE arrived >= ? AND arrived < ?"
        args: list = [since, until]
        if agent is not None:
            sql += " AND agent = ?"
            args.append(agent)
        sql += " ORDER BY arrived DESC LIMIT ?"
        args.append(int(limit))
        try:
            rows = db.execute(sql, args).fetchall()
        except sqlite3.Error:       # no table yet: the core has not created it
            return []
        out = []
        for row in rows:
            rec = dict(zip(COLUMNS, row))
            for key in ("ivr_choices", "offers"):
                try:
                    rec[key] = json.loads(rec[key])
                except (TypeError, ValueError):
                    rec[key] = []
            out.append(rec)
        return out

    def today_by_queue(self, since: float, until: float) -> list[dict]:
        """Offered/answered/abandoned per queue from the records (the core's figures are richer)."""
        db = self._conn()
        if db is None:
            return []
        try:
            rows = db.execute(
                "SELECT queue, COUNT(*), SUM(answered IS NOT NULL AND agent != ''),"
                " SUM(disposition IN (?, ?)), AVG(CASE WHEN answered IS NOT NULL THEN wait_s END)"
                " FROM calls WHERE arrived >= ? AND arrived < ? AND queue != '' GROUP BY queue ORDER BY queue",
                (*ABANDONED, since, until)).fetchall()
        except sqlite3.Error:
            return []
        return [{"queue": q, "offered": n, "answered": int(a or 0), "abandoned": int(b or 0),
                 "average_speed_of_answer_s": round(w, 1) if w is not None else None,
                 "source": "records"} for q, n, a, b, w in rows]

    # -- history, recordings and reports (web/records, web/reports) ---------------------------
    # Every query is bounded by a time range first, so sqlite walks the
    # ``calls_arrived`` index (or ``calls_agent`` for one agent); the other
    # filters are checked on the rows of that range (bench/dashboard_api.py
    # prints the plans).

    def _query(self, sql: str, args) -> list[tuple]:
        db = self._conn()
        if db is None:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error:       # no table yet: the core has not created it
            return []

    def history(self, query: "CallQuery", *, limit: int, offset: int = 0) -> list[dict]:
        """Calls matching ``query``, newest first."""
        where, args = query.where()
        rows = self._query(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM calls WHERE {where}"
                           " ORDER BY arrived DESC, id DESC LIMIT ? OFFSET ?", (*args, int(limit), int(offset)))
        return [_decoded(dict(zip(HISTORY_COLUMNS, row))) for row in rows]

    def iter_history(self, query: "CallQuery"):
        """Every call matching ``query``, newest first, read as it is consumed (the CSV export)."""
        db = self._conn()
        if db is None:
            return
        where, args = query.where()
        try:
            cursor = db.execute(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM calls WHERE {where}"
                                " ORDER BY arrived DESC, id DESC", args)
            for row in cursor:
                yield _decoded(dict(zip(HISTORY_COLUMNS, row)))
        except sqlite3.Error:
            return

    def history_count(self, query: "CallQuery") -> int:
        where, args = query.where()
        rows = self._query(f"SELECT COUNT(*) FROM calls WHERE {where}", args)
        return rows[0][0] if rows else 0

    def history_plan(self, query: "CallQuery") -> list[str]:
        """sqlite's plan for :meth:`history` (which index it walks)."""
        where, args = query.where()
        rows = self._query(f"EXPLAIN QUERY PLAN SELECT {', '.join(HISTORY_COLUMNS)} FROM calls WHERE {where}"
                           " ORDER BY arrived DESC, id DESC LIMIT ? OFFSET ?", (*args, 50, 0))
        return [row[-1] for row in rows]

    def call(self, uid: str) -> dict | None:
        rows = self._query(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM calls WHERE uid = ?", (uid,))
        return _decoded(dict(zip(HISTORY_COLUMNS, rows[0]))) if rows else None

    def queues_seen(self, since: float, until: float) -> list[str]:
        return [q for (q,) in self._query("SELECT DISTINCT queue FROM calls WHERE arrived >= ? AND arrived < ?"
                                          " AND queue != ''", (since, until))]

    def queue_events(self, queue: str, since: float, until: float) -> list:
        """One queue's queue_log events in a time range, as :class:`~firmware.telephony.metrics.QueueStats`
        reads them: time and kind, and in ``data`` only ``wait`` and ``talk``, taken out by
        sqlite (decoding each event's JSON in Python costs several times more over a year).
        Walks ``queue_log_time``.
        """
        from firmware.telephony.queues import QueueEvent
        rows = self._query(
            "SELECT time, event,"
            " CASE WHEN event IN ('CONNECT', 'ABANDON', 'EXITWITHKEY', 'EXITWITHTIMEOUT', 'EXITEMPTY')"
            " AND json_valid(data) THEN json_extract(data, '$.wait') END,"
            " CASE WHEN event IN ('COMPLETECALLER', 'COMPLETEAGENT') AND json_valid(data)"
            " THEN json_extract(data, '$.talk') END"
            " FROM queue_log WHERE queue = ? AND time >= ? AND time < ? ORDER BY time", (queue, since, until))
        out = []
        for t, kind, wait, talk in rows:
            if wait is None and kind in ("CONNECT", "ABANDON"):
                continue                    # a damaged row: left out rather than failing the report
            data = {} if wait is None else {"wait": wait}
            if talk is not None:
                data["talk"] = talk
            out.append(QueueEvent(t, queue, "", "", kind, data))
        return out

    def arrivals(self, since: float, until: float, bucket_s: int = 900) -> list[tuple[float, int]]:
        """Incoming calls counted per ``bucket_s`` (start of bucket, count); outgoing ones left out."""
        rows = self._query("SELECT CAST(arrived / ? AS INTEGER), COUNT(*) FROM calls"
                           " WHERE arrived >= ? AND arrived < ? AND dialed = '' GROUP BY 1",
                           (bucket_s, since, until))
        return [(b * bucket_s, n) for b, n in rows]

    def agent_totals(self, since: float, until: float) -> list[dict]:
        """Per agent: incoming calls answered, their talk and wrap-up time, outgoing calls."""
        rows = self._query(
            "SELECT agent, SUM(dialed = '' AND answered IS NOT NULL),"
            " SUM(CASE WHEN dialed = '' AND answered IS NOT NULL THEN COALESCE(talk_s, 0) ELSE 0 END),"
            " SUM(CASE WHEN dialed = '' AND answered IS NOT NULL THEN wrapup_s ELSE 0 END),"
            " SUM(dialed != '')"
            " FROM calls WHERE arrived >= ? AND arrived < ? AND agent != '' GROUP BY agent", (since, until))
        return [{"agent": a, "answered": int(n or 0), "talk_s": float(t or 0), "wrapup_s": float(w or 0),
                 "outbound": int(o or 0)} for a, n, t, w, o in rows]

    def missed_offers(self, since: float, until: float) -> dict[str, int]:
        """Per agent: offers it did not take (no answer, busy, declined ...), from the calls' offers."""
        rows = self._query(
            "SELECT json_extract(o.value, '$.agent'), COUNT(*) FROM calls, json_each(calls.offers) AS o"
            " WHERE calls.arrived >= ? AND calls.arrived < ? AND calls.offers != '[]'"
            " AND json_extract(o.value, '$.outcome') NOT IN ('answered', 'withdrawn', 'ringing')"
            " GROUP BY 1", (since, until))
        return {str(a): int(n) for a, n in rows if a}


HISTORY_COLUMNS = (*COLUMNS, "dialed")


def _decoded(rec: dict) -> dict:
    for key in ("ivr_choices", "offers"):
        try:
            rec[key] = json.loads(rec[key])
        except (TypeError, ValueError):
            rec[key] = []
    return rec


@dataclass(frozen=True)
class CallQuery:
    """Which calls the history shows: a time range and optional filters (already validated)."""

    since: float
    until: float
    agent: str | None = None
    queue: str | None = None
    line: str | None = None
    disposition: str | None = None
    number: str | None = None        # part of the caller's number or of the number dialled
    recorded: bool = False

    def where(self) -> tuple[str, list]:
        sql, args = ["arrived >= ? AND arrived < ?"], [self.since, self.until]
        for column in ("agent", "queue", "line", "disposition"):
            value = getattr(self, column)
            if value is not None:
                sql.append(f"{column} = ?")
                args.append(value)
        if self.recorded:
            sql.append("recording != ''")
        if self.number:
            sql.append("(instr(caller, ?) > 0 OR instr(dialed, ?) > 0)")
            args += [self.number, self.number]
        return " AND ".join(sql), args
