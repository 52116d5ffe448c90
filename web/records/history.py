"""The call history: its filters, its rows as pages and the API show them,
and the CSV export.

Filters come from a query string (``from``, ``to``, ``number``, ``agent``,
``queue``, ``line``, ``disposition``, ``recorded=1``; dates in the shop's time zone, both
days included) and are validated here: a refused value raises
``ConfigError(field, message)``. The role is applied here too: an agent's
query is always for its own calls, and asking for another agent's is
refused (403).

CSV for Excel as used in China: UTF-8 with a byte-order mark (without it
Excel reads the file as GBK and the Chinese turns to mojibake), and no
cell may start a formula: text starting with ``= + - @`` (or a tab or
carriage return) gets a leading apostrophe.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import gettext
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import Forbidden

from firmware.errors import ConfigError
from web.auth.users import User
from web.box import Box
from web.calllog import CallLog, CallQuery
from web.dashboard.live import day_bounds
from web.i18n import N_

#: How each disposition is shown (the dashboard uses the same words).
DISPOSITIONS = {
    "answered": N_("answered"),
    "abandoned-in-queue": N_("hung up while waiting"),
    "abandoned-in-ivr": N_("hung up in the menu"),
    "exit-key": N_("left the queue"),
    "timeout": N_("waited too long"),
    "voicemail": N_("left a message"),
    "no-agents": N_("no agent"),
    "refused": N_("refused"),
    "hangup": N_("hung up"),
    "busy": N_("busy"),
    "no-answer": N_("no answer"),
    "failed": N_("failed"),
}
NUMBER = re.compile(r"[0-9+*#]{1,32}")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
PER_PAGE, MAX_PER_PAGE = 50, 200
MAX_PAGE = 1_000_000           # far past any real history; keeps OFFSET a small number
#: The days a query may name: call records are of this century, and the
#: day after the last one must still be a date (9999-12-31 has none).
FIRST_YEAR, LAST_YEAR = 2000, 2100
DEFAULT_DAYS = 7
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Names:
    """What the configuration calls agents, queues and lines (ids → names)."""

    agents: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, box: Box) -> "Names":
        tables = box.store.callcenter_tables()
        return cls(agents={e["number"]: e.get("name", "") for e in box.store.extensions()},
                   queues={q["id"]: q.get("name") or q["id"] for q in tables["queues"]},
                   lines={ln["id"]: ln.get("name") or ln["id"] for ln in tables.get("lines", [])})


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    query: CallQuery
    values: dict            # the filters as given: for the form and the links

    def args(self, **more) -> dict:
        """Query-string arguments that ask for the same calls."""
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(),
               **{k: v for k, v in self.values.items() if v and k not in ("from", "to")}}
        out.update({k: v for k, v in more.items() if v is not None})
        return out


def parse_date(value: str, name: str) -> date:
    """A day like 2026-05-01 from a query string, of the years 2000 to 2100; ``ConfigError(name, …)``."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except (ValueError, TypeError):
        raise ConfigError(name, N_("must be a date like 2026-05-01")) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ConfigError(name, N_("must be a date from 2000-01-01 to 2100-12-31"))
    return day


def parse_range(args: MultiDict, box: Box, *, default_days: int, max_days: int | None = None) -> tuple[date, date]:
    """``from`` and ``to`` (both days included); by default the last ``default_days`` days up to today."""
    today = box.state.now().date()
    end = parse_date(args["to"], "to") if args.get("to") else today
    start = parse_date(args["from"], "from") if args.get("from") else end - timedelta(days=default_days - 1)
    if start > end:
        raise ConfigError("from", N_("must not be after the end date"))
    if max_days is not None and (end - start).days + 1 > max_days:
        raise ConfigError("to", N_("must be at most a year after the start date"))
    return start, end


def _choice(args: MultiDict, name: str, pattern: re.Pattern = NAME) -> str | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if not pattern.fullmatch(value):
        raise ConfigError(name, N_("is not one of the choices"))
    return value


def parse_filters(args: MultiDict, user: User, box: Box, *, default_days: int = DEFAULT_DAYS,
                  max_days: int | None = None, recorded: bool = False) -> Filters:
    """The calls a query string asks for, as this user may see them.

    :raises ConfigError: a refused value (its field named).
    :raises Forbidden: an agent asking for another agent's calls.
    """
    start, end = parse_range(args, box, default_days=default_days, max_days=max_days)
    agent = _choice(args, "agent")
    if not user.is_admin:
        if agent not in (None, user.extension) or not user.extension:
            raise Forbidden(gettext("Agents see only their own calls."))
        agent = user.extension
    disposition = _choice(args, "disposition")
    if disposition is not None and disposition not in DISPOSITIONS:
        raise ConfigError("disposition", N_("is not one of the choices"))
    number = (args.get("number") or "").strip().replace(" ", "").replace("-", "")
    if number and not NUMBER.fullmatch(number):
        raise ConfigError("number", N_("must be digits (and + * #), at most 32"))
    since, until = day_bounds(box, start.isoformat())[0], day_bounds(box, end.isoformat())[1]
    recorded = recorded or args.get("recorded") in ("1", "true", "yes")
    query = CallQuery(since, until, agent=agent, queue=_choice(args, "queue"), line=_choice(args, "line"),
                      disposition=disposition, number=number or None, recorded=recorded)
    values = {"from": start.isoformat(), "to": end.isoformat(), "number": number, "agent": agent or "",
              "queue": query.queue or "", "line": query.line or "", "disposition": disposition or "",
              "recorded": "1" if recorded else ""}
    return Filters(start, end, query, values)


def default_filters(user: User, box: Box, *, recorded: bool = False) -> Filters:
    """The filters of a page opened without any (shown again after a refused value)."""
    return parse_filters(MultiDict(), user, box, recorded=recorded)


def _whole(args: MultiDict, name: str, default: int) -> int:
    try:
        return int(args.get(name, default))
    except (ValueError, TypeError):
        raise ConfigError(name, N_("must be a whole number")) from None


def paging(args: MultiDict) -> tuple[int, int]:
    """``page`` (1 to 1,000,000) and ``per_page`` (clamped to 1..200); a refusal names its field."""
    page = _whole(args, "page", 1)
    per_page = _whole(args, "per_page", PER_PAGE)
    if page > MAX_PAGE:
        raise ConfigError("page", f"must be from 1 to {MAX_PAGE}")      # translated by its pattern (web/i18n.py)
    return max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)


def present(rec: dict, names: Names, user: User) -> dict:
    """A call as the pages and the API show it (an agent never sees other agents' offers)."""
    out = {k: rec.get(k) for k in ("uid", "arrived", "caller", "dialed", "line", "route", "queue", "answered",
                                    "ended", "agent", "wait_s", "talk_s", "wrapup_s", "disposition",
                                    "ivr_choices")}
    out["queue_name"] = names.queues.get(rec["queue"], rec["queue"])
    out["agent_name"] = names.agents.get(rec["agent"], "")
    out["line_name"] = names.lines.get(rec["line"], rec["line"])
    out["recording_url"] = (url_for("api.recording", filename=f"{rec['uid']}.wav") if rec.get("recording")
                            else None)
    if user.is_admin:
        out["offers"] = rec.get("offers", [])
    return out


def safe_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _seconds(value) -> str:
    return "" if value is None else f"{value:.1f}"


CSV_COLUMNS = (N_("Time"), N_("Caller"), N_("Number dialled"), N_("Line"), N_("Queue"), N_("Agent"),
               N_("Agent name"), N_("Result"), N_("Wait (s)"), N_("Talk (s)"), N_("Wrap-up (s)"),
               N_("Menu keys"), N_("Recording"), N_("Call ID"))


def csv_chunks(db_path: Path, query: CallQuery, names: Names, zone: ZoneInfo, batch: int = 500):
    """The CSV export as a generator of text chunks, made as it is sent.

    It reads through its own read-only connection (closed at the end, or
    when the download is cut); the texts are translated before, in the
    request's language.
    """
    header = [gettext(c) for c in CSV_COLUMNS]
    results = {k: gettext(v) for k, v in DISPOSITIONS.items()}
    yes = gettext("yes")

    def row(rec: dict) -> list[str]:
        when = datetime.fromtimestamp(rec["arrived"], timezone.utc).astimezone(zone)
        return [safe_cell(v) for v in (
            when.strftime("%Y-%m-%d %H:%M:%S"), rec["caller"], rec["dialed"],
            names.lines.get(rec["line"], rec["line"]), names.queues.get(rec["queue"], rec["queue"]),
            rec["agent"], names.agents.get(rec["agent"], ""), results.get(rec["disposition"], rec["disposition"]),
            _seconds(rec["wait_s"]), _seconds(rec["talk_s"]), _seconds(rec["wrapup_s"]),
            "".join(map(str, rec["ivr_choices"])), yes if rec["recording"] else "", rec["uid"])]

    def generate():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")

        def take() -> str:
            text = buf.getvalue()
            buf.seek(0)
            buf.truncate()
            return text

        writer.writerow(header)
        yield "\ufeff" + take()
        calllog = CallLog(db_path)
        try:
            for n, rec in enumerate(calllog.iter_history(query), 1):
                writer.writerow(row(rec))
                if n % batch == 0:
                    yield take()
        finally:
            calllog.close()
        rest = take()
        if rest:
            yield rest

    return generate()
