"""Read-only view of the call records (``DATA/records.db``, written by the core).

The web never writes there: it opens sqlite read-only (``mode=ro``), so a
missing file stays missing and the core stays the one writer. Used for an
agent's own calls and for today's numbers when the core is not running.
"""
from __future__ import annotations

import json
import sqlite3
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
