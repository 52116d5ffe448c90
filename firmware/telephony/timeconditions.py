"""Time conditions: is the shop open now, and where does a call go.

Owns business hours like FreePBX time groups and Yeastar business hours,
plus China's rules: public holidays close the shop, adjusted working days
(调休) open a weekend day on a weekday's hours. A :class:`TimeCondition`
picks its open or closed :class:`~firmware.telephony.targets.Target` unless
the owner forced day/night mode with an :class:`Override`.

Pure logic: the caller passes an aware ``datetime``; nothing here reads the
clock, touches files or imports pjsua2. Bad config raises
:class:`~firmware.errors.ConfigError` naming the field when it is built,
never later at call time.

Times of day are naive ``datetime.time`` values in the schedule's zone. A
range includes its start, excludes its end; an end of ``time(0, 0)`` means
midnight at the end of that day ("24:00"), so ``00:00-24:00`` is the whole
day. Ranges across midnight (22:00-02:00) are refused: write 22:00-24:00
plus 00:00-02:00 on the next day.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware.errors import ConfigError
from firmware.telephony.targets import Target, TargetKind

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = weekday()
MIDNIGHT = time(0, 0)               # as a range end: the end of the day
LOOKAHEAD = timedelta(days=14)      # how far next_change() searches

Range = tuple[time, time]

_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _fmt(t: time, end: bool = False) -> str:
    return "24:00" if end and t == MIDNIGHT else t.strftime("%H:%M")


def _check_day(where: str, ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Validate one day's ranges; return them sorted."""
    if isinstance(ranges, (str, bytes)) or not isinstance(ranges, Iterable):
        raise ConfigError(where, "must be a list of (start, end) ranges")
    out = []
    for item in ranges:
        pair = tuple(item) if isinstance(item, (tuple, list)) else ()
        if len(pair) != 2 or not all(isinstance(t, time) and t.tzinfo is None for t in pair):
            raise ConfigError(where, f"{item!r} is not a (start, end) pair of naive times")
        start, end = pair
        if end != MIDNIGHT and end <= start:
            raise ConfigError(where, f"{_fmt(start)}-{_fmt(end, True)} ends before it starts; "
                                     "ranges across midnight are not supported, split them at 24:00")
        out.append((start, end))
    out.sort()
    for (s1, e1), (s2, e2) in zip(out, out[1:]):
        if e1 == MIDNIGHT or e1 > s2:  # touching (12:00-13:00, 13:00-14:00) is fine
            raise ConfigError(where, f"{_fmt(s1)}-{_fmt(e1, True)} and {_fmt(s2)}-{_fmt(e2, True)} overlap")
    return tuple(out)


class WeeklyHours:
    """Opening hours for each weekday, 0 = Monday .. 6 = Sunday.

    :param days: weekday -> (start, end) ranges; a missing weekday is closed.
    :param field: config path used in errors, e.g. ``hours`` -> ``hours.mon``.
    :raises ConfigError: for an unknown weekday, a bad or backwards range, or an overlap.
    """

    def __init__(self, days: Mapping[int, Iterable[Range]] | None = None, *, field: str = "hours"):
        table: list[tuple[Range, ...]] = [()] * 7
        for day, ranges in dict(days or {}).items():
            if not isinstance(day, int) or not 0 <= day <= 6:
                raise ConfigError(f"{field}.{day}", "unknown weekday; use 0 (Monday) .. 6 (Sunday)")
            table[day] = _check_day(f"{field}.{DAY_KEYS[day]}", ranges)
        self._days = tuple(table)

    def ranges(self, weekday: int) -> tuple[Range, ...]:
        return self._days[weekday]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WeeklyHours) and self._days == other._days

    def __hash__(self) -> int:
        return hash(self._days)

    def __repr__(self) -> str:
        return f"WeeklyHours({dict(enumerate(self._days))})"


def parse_hours(spec: Mapping[str, list[str]], field: str = "hours") -> WeeklyHours:
    """``{"mon": ["09:00-12:00", "13:30-18:00"], "sat": ["10:00-16:00"]}`` -> WeeklyHours.

    Keys are ``mon`` .. ``sun``; a missing day is closed. An end of ``24:00``
    (or ``00:00``) means the end of the day.

    :raises ConfigError: ``hours.<day>`` naming the day that is wrong.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(field, "must map mon..sun to lists like ['09:00-18:00']")
    days = {}
    for key, items in spec.items():
        where = f"{field}.{key}"
        if key not in DAY_KEYS:
            raise ConfigError(where, "unknown day; use mon, tue, wed, thu, fri, sat or sun")
        if not isinstance(items, (list, tuple)):
            raise ConfigError(where, "must be a list like ['09:00-18:00']")
        days[DAY_KEYS.index(key)] = [_parse_range(where, item) for item in items]
    return WeeklyHours(days, field=field)


def _parse_range(where: str, text: object) -> Range:
    m = _RANGE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(where, f"{text!r} is not a range like '09:00-18:00'")
    sh, sm, eh, em = map(int, m.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ConfigError(where, f"{text!r} is not a valid time of day")
    return time(sh, sm), (MIDNIGHT if eh == 24 else time(eh, em))


def parse_dates(items: list[str], field: str) -> frozenset[date]:
    """``["2026-10-01", ...]`` -> a set of dates. :raises ConfigError: naming ``field``."""
    if not isinstance(items, (list, tuple)):
        raise ConfigError(field, "must be a list of dates like '2026-10-01'")
    out = set()
    for item in items:
        if not isinstance(item, str) or not _DATE.fullmatch(item):
            raise ConfigError(field, f"{item!r} is not a date like '2026-10-01'")
        try:
            out.add(date.fromisoformat(item))
        except ValueError:
            raise ConfigError(field, f"{item!r} is not a real date") from None
    return frozenset(out)


@dataclass(frozen=True)
class HolidayCalendar:
    """Public holidays and China's adjusted working days (调休).

    :param closed_days: dates the shop is closed all day, whatever the weekday.
    :param extra_workdays: dates (usually a weekend day) worked to make up for
        a moved holiday; they follow the hours of ``makeup_weekday``.
    :param makeup_weekday: 0 = Monday (default) .. 6 = Sunday.
    :raises ConfigError: if a date is in both sets, or a value is not a date.
    """

    closed_days: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    makeup_weekday: int = 0

    def __post_init__(self):
        for name in ("closed_days", "extra_workdays"):
            days = frozenset(getattr(self, name))
            # a datetime is a date too, but never equals the date looked up later
            if not all(type(d) is date for d in days):
                raise ConfigError(f"holidays.{name}", "must hold dates only")
            object.__setattr__(self, name, days)
        both = self.closed_days & self.extra_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ConfigError("holidays.extra_workdays",
                              f"{listed} also in holidays.closed_days; a day is either closed or worked")
        if not isinstance(self.makeup_weekday, int) or not 0 <= self.makeup_weekday <= 6:
            raise ConfigError("holidays.makeup_weekday", "use 0 (Monday) .. 6 (Sunday)")


@dataclass(frozen=True)
class Schedule:
    """Weekly hours plus holidays, read in one IANA time zone (``Asia/Shanghai``).

    :raises ConfigError: ``timezone`` if the zone is unknown.
    """

    timezone: str
    weekly: WeeklyHours
    holidays: HolidayCalendar = field(default_factory=HolidayCalendar)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ConfigError("timezone", f"unknown time zone {self.timezone!r}; "
                                          "use a name like 'Asia/Shanghai'") from None
        object.__setattr__(self, "_zone", zone)

    def local(self, now: datetime) -> datetime:
        """``now`` in the schedule's zone. :raises ValueError: if ``now`` is naive."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware, e.g. datetime.now(timezone.utc)")
        return now.astimezone(self._zone)

    def hours_on(self, day: date) -> tuple[Range, ...]:
        """The ranges that apply on local date ``day``, holidays included."""
        if day in self.holidays.closed_days:
            return ()
        if day in self.holidays.extra_workdays:
            return self.weekly.ranges(self.holidays.makeup_weekday)
        return self.weekly.ranges(day.weekday())

    def state(self, now: datetime) -> str:
        """``"open"``, ``"closed"``, or ``"holiday"`` (a closed day from the calendar)."""
        local = self.local(now)
        day, t = local.date(), local.time()
        if any(start <= t and (end == MIDNIGHT or t < end) for start, end in self.hours_on(day)):
            return "open"
        return "holiday" if day in self.holidays.closed_days else "closed"

    def is_open(self, now: datetime) -> bool:
        return self.state(now) == "open"

    def next_change(self, now: datetime) -> datetime | None:
        """The first instant after ``now`` when open/closed flips, within 14 days.

        Returned in the schedule's zone; None if nothing flips in that window
        (always open, or closed for two weeks).
        """
        local = self.local(now)
        was_open = self.is_open(local)
        horizon = local + LOOKAHEAD
        day = local.date()
        while day <= horizon.date():
            for start, end in self.hours_on(day):
                end_day = day + timedelta(days=1) if end == MIDNIGHT else day
                for edge in (datetime.combine(day, start, self._zone),
                             datetime.combine(end_day, end, self._zone)):
                    # an edge may not flip anything: 24:00 followed by 00:00 next day
                    if local < edge <= horizon and self.is_open(edge) != was_open:
                        return edge
            day += timedelta(days=1)
        return None


@dataclass(frozen=True)
class Override:
    """Day/night mode forced by a feature code or the control API.

    For Yeastar's "until the schedule next changes", pass
    ``until=schedule.next_change(now)``.

    :param mode: ``"open"`` or ``"closed"``; ``None`` follows the schedule.
    :param until: aware time the override lapses (exclusive); ``None`` = until cleared.
    """

    mode: str | None = None
    until: datetime | None = None

    def __post_init__(self):
        if self.mode not in (None, "open", "closed"):
            raise ConfigError("override.mode", f"{self.mode!r} is not 'open', 'closed' or empty")
        if self.until is not None and (not isinstance(self.until, datetime) or self.until.utcoffset() is None):
            raise ConfigError("override.until", "must be a timezone-aware datetime")

    def active(self, now: datetime) -> str | None:
        """The forced mode at ``now``, or None if following the schedule or expired."""
        if self.until is not None and now >= self.until:
            return None
        return self.mode


@dataclass
class TimeCondition:
    """Send calls to ``open_target`` or ``closed_target`` by schedule.

    ``override`` is replaced at run time when the owner dials the day/night code.

    :raises ConfigError: ``time_conditions.<id>.*`` for a bad id or target.
    """

    id: str
    schedule: Schedule
    open_target: Target
    closed_target: Target
    override: Override | None = None

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError("time_conditions", "a time condition needs an id")
        for name in ("open_target", "closed_target"):
            target = getattr(self, name)
            where = f"time_conditions.{self.id}.{name}"
            if not isinstance(target, Target):
                raise ConfigError(where, f"{target!r} is not a destination")
            if target == Target(TargetKind.TIME_CONDITION, self.id):
                raise ConfigError(where, "points at this time condition itself")

    def choose(self, now: datetime) -> tuple[Target, str]:
        """The target for a call at ``now`` and why: ``open``, ``closed``,
        ``holiday``, ``override-open`` or ``override-closed``."""
        state = self.schedule.state(now)  # first, so a naive ``now`` is refused
        mode = self.override.active(now) if self.override else None
        if mode is not None:
            return (self.open_target if mode == "open" else self.closed_target), f"override-{mode}"
        return (self.open_target if state == "open" else self.closed_target), state
