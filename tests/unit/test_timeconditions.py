from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from firmware.errors import ConfigError
from firmware.telephony.targets import Target
from firmware.telephony.timeconditions import (
    HolidayCalendar,
    Override,
    Schedule,
    TimeCondition,
    WeeklyHours,
    parse_dates,
    parse_hours,
)

SH = ZoneInfo("Asia/Shanghai")
# The week used throughout: Monday 2026-03-02 .. Sunday 2026-03-08.
MON, TUE, WED, THU, FRI, SAT, SUN = (date(2026, 3, d) for d in range(2, 9))

SHOP_HOURS = {day: ["09:00-12:00", "13:30-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
OPEN = Target.parse("queue:sales")
CLOSED = Target.parse("voicemail:shop")


def at(day: date, hh: int, mm: int = 0, ss: int = 0, tz=SH) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tz)


def shop(hours=SHOP_HOURS, closed=(), extra=(), makeup=0) -> Schedule:
    return Schedule("Asia/Shanghai", parse_hours(hours),
                    HolidayCalendar(frozenset(closed), frozenset(extra), makeup))


def test_weekday_with_a_lunch_break():
    s = shop()
    assert s.is_open(at(MON, 10))
    assert not s.is_open(at(MON, 12, 30))
    assert s.is_open(at(MON, 14))
    assert not s.is_open(at(MON, 19))
    assert not s.is_open(at(SAT, 10)) and not s.is_open(at(SUN, 10))  # missing days are closed


def test_start_is_inclusive_and_end_exclusive():
    s = shop()
    assert not s.is_open(at(MON, 8, 59, 59))
    assert s.is_open(at(MON, 9))
    assert s.is_open(at(MON, 11, 59, 59))
    assert not s.is_open(at(MON, 12))
    assert s.is_open(at(MON, 13, 30))
    assert not s.is_open(at(MON, 18))


@pytest.mark.parametrize("until_midnight", ["18:00-24:00", "18:00-00:00"])
def test_a_range_may_run_to_the_end_of_the_day(until_midnight):
    s = shop({"sat": [until_midnight]})
    assert not s.is_open(at(SAT, 17, 59, 59))
    assert s.is_open(at(SAT, 23, 59, 59))
    assert not s.is_open(at(SUN, 0, 0))  # Sunday has no hours
    assert parse_hours({"sat": [until_midnight]}).ranges(5) == ((time(18), time(0)),)


def test_whole_day_and_midnight_end_built_directly():
    always = Schedule("Asia/Shanghai", WeeklyHours({d: [(time(0), time(0))] for d in range(7)}))
    assert always.is_open(at(MON, 0)) and always.is_open(at(SUN, 23, 59, 59))
    assert always.next_change(at(MON, 10)) is None


def test_a_holiday_closes_a_normal_weekday():
    s = shop(closed=[WED])
    assert not s.is_open(at(WED, 10))
    assert s.state(at(WED, 10)) == "holiday"
    assert s.state(at(THU, 10)) == "open"
    assert s.state(at(THU, 20)) == "closed"
    tc = TimeCondition("hours", s, OPEN, CLOSED)
    assert tc.choose(at(WED, 10)) == (CLOSED, "holiday")
    assert tc.choose(at(THU, 10)) == (OPEN, "open")
    assert tc.choose(at(THU, 12, 30)) == (CLOSED, "closed")


def test_an_extra_workday_opens_a_sunday_on_monday_hours():
    s = shop(extra=[SUN])
    assert s.is_open(at(SUN, 9))
    assert not s.is_open(at(SUN, 12, 30))  # Monday's lunch break applies too
    assert s.is_open(at(SUN, 17, 59))
    assert not s.is_open(at(SUN, 18))
    assert not s.is_open(at(SAT, 10))  # the other weekend day stays closed
    assert not s.is_open(at(SUN + timedelta(days=7), 10))  # only that one Sunday


def test_the_makeup_weekday_is_configurable():
    hours = dict(SHOP_HOURS, fri=["09:00-15:00"])
    s = shop(hours, extra=[SUN], makeup=4)
    assert s.is_open(at(SUN, 14))
    assert not s.is_open(at(SUN, 16))  # Friday closes at 15:00, Monday would not


def test_now_is_converted_to_the_schedule_zone():
    s = shop()
    utc = timezone.utc
    assert s.is_open(datetime(2026, 3, 2, 1, 30, tzinfo=utc))       # 09:30 Monday in Shanghai
    assert not s.is_open(datetime(2026, 3, 2, 0, 30, tzinfo=utc))   # 08:30 in Shanghai
    assert not s.is_open(datetime(2026, 3, 2, 10, 30, tzinfo=utc))  # 18:30 in Shanghai
    # The local date decides holidays: 20:00 UTC Sunday is 04:00 Monday in Shanghai.
    assert shop(closed=[MON]).state(datetime(2026, 3, 1, 20, 0, tzinfo=utc)) == "holiday"


def test_naive_datetimes_are_refused():
    s = shop()
    naive = datetime(2026, 3, 2, 10, 0)
    tc = TimeCondition("hours", s, OPEN, CLOSED, Override("open", at(MON, 12)))
    for call in (s.is_open, s.next_change, tc.choose):
        with pytest.raises(ValueError, match="timezone-aware"):
            call(naive)


def test_override_forces_open_and_closed():
    tc = TimeCondition("hours", shop(closed=[WED]), OPEN, CLOSED)
    tc.override = Override("open")
    assert tc.choose(at(MON, 22)) == (OPEN, "override-open")
    assert tc.choose(at(WED, 10)) == (OPEN, "override-open")  # even on a holiday
    tc.override = Override("closed")
    assert tc.choose(at(MON, 10)) == (CLOSED, "override-closed")
    tc.override = Override(None)
    assert tc.choose(at(MON, 10)) == (OPEN, "open")


def test_an_expired_override_is_ignored():
    until = at(MON, 12)
    tc = TimeCondition("hours", shop(), OPEN, CLOSED, Override("open", until))
    assert tc.choose(until - timedelta(seconds=1)) == (OPEN, "override-open")
    assert tc.choose(until) == (CLOSED, "closed")  # lunch break, override over
    assert tc.choose(until.astimezone(timezone.utc) + timedelta(hours=2)) == (OPEN, "open")


def test_override_until_the_next_schedule_change():
    s = shop()
    ov = Override("closed", until=s.next_change(at(MON, 10)))
    assert ov.until == at(MON, 12)
    tc = TimeCondition("hours", s, OPEN, CLOSED, ov)
    assert tc.choose(at(MON, 11)) == (CLOSED, "override-closed")
    assert tc.choose(at(MON, 14)) == (OPEN, "open")


def test_bad_overrides_are_refused():
    with pytest.raises(ConfigError) as err:
        Override("day")
    assert err.value.field == "override.mode"
    with pytest.raises(ConfigError) as err:
        Override("open", datetime(2026, 3, 2, 12))
    assert err.value.field == "override.until"


def test_next_change_within_a_day():
    s = shop()
    assert s.next_change(at(MON, 10)) == at(MON, 12)
    assert s.next_change(at(MON, 12, 30)) == at(MON, 13, 30)
    assert s.next_change(at(MON, 9)) == at(MON, 12)  # strictly after now
    assert s.next_change(at(MON, 7)) == at(MON, 9)


def test_next_change_across_a_weekend_and_a_holiday():
    assert shop().next_change(at(FRI, 19)) == at(MON + timedelta(days=7), 9)
    next_mon = MON + timedelta(days=7)
    assert shop(closed=[next_mon]).next_change(at(FRI, 19)) == at(next_mon + timedelta(days=1), 9)
    assert shop(extra=[SUN]).next_change(at(FRI, 19)) == at(SUN, 9)
    assert shop(closed=[WED]).next_change(at(TUE, 17)) == at(TUE, 18)
    assert shop(closed=[WED]).next_change(at(TUE, 18)) == at(THU, 9)


def test_next_change_is_in_the_schedule_zone_and_accepts_utc():
    change = shop().next_change(datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc))  # 10:00 Shanghai
    assert change == datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
    assert change.tzinfo == SH and change.hour == 12


def test_next_change_skips_midnight_when_open_across_it():
    s = shop({"sat": ["18:00-24:00"], "sun": ["00:00-02:00"]})
    assert s.next_change(at(SAT, 19)) == at(SUN, 2)


def test_next_change_gives_up_after_fourteen_days():
    mondays_only = {"mon": ["09:00-18:00"]}
    one_off = shop(mondays_only, closed=[MON + timedelta(days=7)])
    assert one_off.next_change(at(MON, 19)) == at(MON + timedelta(days=14), 9)
    two_off = shop(mondays_only, closed=[MON + timedelta(days=7), MON + timedelta(days=14)])
    assert two_off.next_change(at(MON, 19)) is None
    assert shop({}).next_change(at(MON, 10)) is None


def test_parse_hours_reads_the_config_shape():
    hours = parse_hours({"mon": ["09:00-12:00", "13:30-18:00"], "sat": [" 10:00 - 16:00 "]})
    assert hours.ranges(0) == ((time(9), time(12)), (time(13, 30), time(18)))
    assert hours.ranges(5) == ((time(10), time(16)),)
    assert hours.ranges(6) == ()
    assert hours == WeeklyHours({0: [(time(13, 30), time(18)), (time(9), time(12))],
                                 5: [(time(10), time(16))]})


@pytest.mark.parametrize("spec, field", [
    ({"mon": ["9-18"]}, "hours.mon"),
    ({"mon": ["09:00"]}, "hours.mon"),
    ({"tue": ["18:00-09:00"]}, "hours.tue"),          # end before start
    ({"tue": ["22:00-02:00"]}, "hours.tue"),          # overnight is not supported
    ({"wed": ["09:00-09:00"]}, "hours.wed"),          # empty range
    ({"wed": ["09:00-12:00", "11:00-14:00"]}, "hours.wed"),  # overlap
    ({"thu": ["00:00-24:00", "10:00-11:00"]}, "hours.thu"),  # overlap with a 24:00 end
    ({"thu": ["25:00-26:00"]}, "hours.thu"),
    ({"fri": ["09:00-24:30"]}, "hours.fri"),
    ({"fri": ["09:60-10:00"]}, "hours.fri"),
    ({"sat": "09:00-18:00"}, "hours.sat"),            # a string, not a list
    ({"sun": [900]}, "hours.sun"),
    ({"xyz": ["09:00-18:00"]}, "hours.xyz"),
    ({"Monday": []}, "hours.Monday"),
    (["09:00-18:00"], "hours"),
])
def test_bad_hours_are_refused_naming_the_field(spec, field):
    with pytest.raises(ConfigError) as err:
        parse_hours(spec)
    assert err.value.field == field


def test_weekly_hours_refuses_bad_ranges_directly():
    with pytest.raises(ConfigError) as err:
        WeeklyHours({0: [(time(22), time(2))]})
    assert err.value.field == "hours.mon"
    with pytest.raises(ConfigError) as err:
        WeeklyHours({7: [(time(9), time(10))]})
    assert err.value.field == "hours.7"
    with pytest.raises(ConfigError) as err:
        WeeklyHours({2: [(time(9, tzinfo=timezone.utc), time(10))]})
    assert err.value.field == "hours.wed"


def test_touching_ranges_are_allowed():
    hours = parse_hours({"mon": ["09:00-12:00", "12:00-13:00"]})
    s = Schedule("Asia/Shanghai", hours)
    assert s.is_open(at(MON, 12)) and s.next_change(at(MON, 10)) == at(MON, 13)


def test_parse_dates():
    assert parse_dates(["2026-10-01", "2026-10-02", "2026-10-01"], "holidays.closed_days") == \
        frozenset({date(2026, 10, 1), date(2026, 10, 2)})
    assert parse_dates([], "x") == frozenset()


@pytest.mark.parametrize("items", [["2026-02-30"], ["20260215"], ["2026-2-15"], ["tomorrow"],
                                   [20260215], "2026-02-15"])
def test_bad_dates_are_refused_naming_the_field(items):
    with pytest.raises(ConfigError) as err:
        parse_dates(items, "holidays.extra_workdays")
    assert err.value.field == "holidays.extra_workdays"


def test_a_date_both_closed_and_worked_is_refused():
    with pytest.raises(ConfigError) as err:
        HolidayCalendar(parse_dates(["2026-03-08"], "holidays.closed_days"),
                        parse_dates(["2026-03-08"], "holidays.extra_workdays"))
    assert err.value.field == "holidays.extra_workdays"
    assert "2026-03-08" in err.value.message


def test_bad_calendar_values_are_refused():
    with pytest.raises(ConfigError) as err:
        HolidayCalendar(makeup_weekday=7)
    assert err.value.field == "holidays.makeup_weekday"
    with pytest.raises(ConfigError) as err:
        HolidayCalendar(closed_days=frozenset({datetime(2026, 3, 4)}))
    assert err.value.field == "holidays.closed_days"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "Asia", "../etc/passwd"])
def test_unknown_time_zone_is_refused(zone):
    with pytest.raises(ConfigError) as err:
        Schedule(zone, WeeklyHours())
    assert err.value.field == "timezone"


def test_time_condition_refuses_bad_targets():
    with pytest.raises(ConfigError) as err:
        TimeCondition("hours", shop(), Target.parse("time_condition:hours"), CLOSED)
    assert err.value.field == "time_conditions.hours.open_target"
    with pytest.raises(ConfigError) as err:
        TimeCondition("hours", shop(), OPEN, "voicemail:shop")
    assert err.value.field == "time_conditions.hours.closed_target"
    with pytest.raises(ConfigError):
        TimeCondition("", shop(), OPEN, CLOSED)
