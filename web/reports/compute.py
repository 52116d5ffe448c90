"""The figures of the reports page, for the days ``start``..``end`` in the shop's time zone.

- **Calls per hour**: incoming calls (not the ones extensions placed out)
  by day of the week and hour, counted in 15-minute buckets by sqlite and
  placed in local time here (so zones with half-hour offsets and DST come
  out right).
- **Service level and abandon rate per day**: each queue's ``queue_log``
  events fed day by day into :class:`firmware.telephony.metrics.QueueStats`,
  the same definitions as the dashboard's "today" (Asterisk's: answered
  within the queue's ``sl_threshold_s`` / answered; abandoned / offered),
  each queue with its own threshold (15 s unless set); a day's figures are
  the sums over its queues.
- **Agents**: incoming calls answered, their talk time, average handle
  time (talk + wrap-up per call), offers not taken (no answer, busy,
  declined; not the ones withdrawn because a colleague answered) and calls
  placed out.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import fields
from datetime import date, datetime, timedelta, timezone

from firmware.telephony.metrics import QueueStats
from firmware.telephony.queues import QueueConfig
from web.box import Box
from web.calllog import CallLog
from web.dashboard.live import day_bounds
from web.records.history import Names

DEFAULT_DAYS = 28           # four whole weeks: every day of the week counted as often
MAX_DAYS = 366
SL_DEFAULT_S = QueueConfig.sl_threshold_s
_SUMMED = [f.name for f in fields(QueueStats) if f.name not in ("queue", "sl_threshold_s")]


def combined(stats, name: str = "all") -> QueueStats:
    """Several queues' (or days') stats as one: counts and totals added up."""
    out = QueueStats(name, sl_threshold_s=0.0)
    for s in stats:
        for f in _SUMMED:
            setattr(out, f, getattr(out, f) + getattr(s, f))
    return out


def _figures(stats: QueueStats) -> dict:
    d = stats.as_dict()
    return {k: d[k] for k in ("offered", "answered", "abandoned", "service_level", "service_level_with_abandons",
                              "abandon_rate", "average_speed_of_answer_s", "average_talk_time_s")}


def build(box: Box, calllog: CallLog, start: date, end: date) -> dict:
    zone = box.state.zone()
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    starts = [day_bounds(box, d.isoformat())[0] for d in days] + [day_bounds(box, end.isoformat())[1]]
    since, until = starts[0], starts[-1]
    names = Names.of(box)
    thresholds = {q["id"]: float(q.get("sl_threshold_s", SL_DEFAULT_S))
                  for q in box.store.callcenter_tables()["queues"]}

    # Service level and abandon rate: QueueStats per queue and day.
    daily: list[list[QueueStats]] = [[] for _ in days]
    queues = []
    for qid in sorted(set(thresholds) | set(calllog.queues_seen(since, until))):
        threshold = thresholds.get(qid, SL_DEFAULT_S)
        per_day: dict[int, QueueStats] = {}
        for event in calllog.queue_events(qid, since, until):
            i = bisect_right(starts, event.time) - 1
            if 0 <= i < len(days):
                per_day.setdefault(i, QueueStats(qid, threshold)).record(event)
        for i, stats in per_day.items():
            daily[i].append(stats)
        total = combined(per_day.values(), qid)
        total.sl_threshold_s = threshold
        queues.append({"queue": qid, "name": names.queues.get(qid, qid), "service_level_threshold_s": threshold,
                       **_figures(total)})
    day_rows = [{"day": d.isoformat(), **_figures(combined(stats))} for d, stats in zip(days, daily)]

    # Calls per hour by day of the week (Monday first), in local time.
    heat = [[0] * 24 for _ in range(7)]
    for bucket_start, count in calllog.arrivals(since, until):
        local = datetime.fromtimestamp(bucket_start, timezone.utc).astimezone(zone)
        heat[local.weekday()][local.hour] += count

    # Agents.
    totals = {t["agent"]: t for t in calllog.agent_totals(since, until)}
    missed = calllog.missed_offers(since, until)
    members = {m for q in box.store.callcenter_tables()["queues"] for m in q.get("members", [])}
    agents = []
    for ext in sorted(set(totals) | set(missed) | members):
        t = totals.get(ext, {"answered": 0, "talk_s": 0.0, "wrapup_s": 0.0, "outbound": 0})
        n = t["answered"]
        agents.append({"extension": ext, "name": names.agents.get(ext, ""), "answered": n,
                       "talk_s": round(t["talk_s"], 1),
                       "average_talk_s": round(t["talk_s"] / n, 1) if n else None,
                       "average_handle_s": round((t["talk_s"] + t["wrapup_s"]) / n, 1) if n else None,
                       "missed_offers": missed.get(ext, 0), "outbound": t["outbound"]})

    return {"from": start.isoformat(), "to": end.isoformat(), "timezone": str(zone),
            "totals": _figures(combined(s for day in daily for s in day)),
            "days": day_rows, "queues": queues,
            "calls_per_hour": {"counts": heat, "max": max(max(row) for row in heat)},
            "agents": agents}
