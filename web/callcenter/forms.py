"""Forms of the call center pages, and their translation to and from records.

Each form only reads what the owner typed; ranges, destinations and
references are checked by the config store when the record is saved
(``firmware/config/callcenter.py``), and its refusal is shown next to the
field (:data:`ALIASES` maps the store's field names onto the form's).
Destinations and prompts are plain text fields drawn as grouped pickers
(``templates/callcenter/_macros.html``).
"""
from __future__ import annotations

import re
from dataclasses import MISSING, fields

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, FloatField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from firmware.telephony import ivr
from firmware.telephony.queues import QueueConfig
from web.forms import BoxForm, WeeklyHoursForm, choices
from web.wizard.forms import REQUIRED, TOO_LONG, BoxIntegerField, MultiCheckboxField
from web.wizard.plan import DAYS

NOT_A_NUMBER = _l("must be a number")
KEYS = "1234567890*#"
KEY_FIELDS = {k: "key_" + {"*": "star", "#": "hash"}.get(k, k) for k in KEYS}
SPLIT = re.compile(r"[\s,;，；、]+")


def _defaults(cls) -> dict:
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


MENU_DEFAULTS = {**_defaults(ivr.Menu), "prompt": "welcome", "direct_dial": True}
QUEUE_DEFAULTS = {**{k: v for k, v in _defaults(QueueConfig).items() if k not in ("exit_target",)},
                  "strategy": "rrmemory", "failover": "hangup", "exit_key": ""}


class BoxFloatField(FloatField):
    """A number field whose "not a number" message is ours (translated)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(NOT_A_NUMBER) from None


def _target(field) -> str:
    """What was typed in a text field, trimmed; "" when the field was not sent at all."""
    return (field.data or "").strip()


def drop_empty(rec: dict) -> dict:
    """A destination left empty is missing (the store says what it needs), not ``""``."""
    return {k: v for k, v in rec.items() if v != "" or k in ("name", "exit_key")}


def _number(value):
    """5.0 -> 5 (stored as the owner typed it), 2.5 stays."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _id_field(label):
    return StringField(label, validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)],
                       description=_l("Lowercase letters, digits, - or _, e.g. sales. Cannot be changed later."))


# -- menus -------------------------------------------------------------------

class NewMenuForm(BoxForm):
    menu_id = _id_field(_l("Menu name"))
    prompt = StringField(_l("Greeting the caller hears"), default="welcome")
    operator = StringField(_l("A person (key 0, and after failed tries)"))


class MenuForm(BoxForm):
    prompt = StringField(_l("Greeting the caller hears"))
    operator = StringField(_l("A person (key 0, and after failed tries)"),
                           description=_l("Key 0 always leads here unless 0 has a choice of its own."))
    failover = StringField(_l("After too many wrong keys or silence"))
    direct_dial = BooleanField(_l("Callers may dial an extension number directly"))
    timeout_s = BoxFloatField(_l("Wait for a key (seconds)"), validators=[InputRequired(REQUIRED)])
    inter_digit_s = BoxFloatField(_l("Wait between the digits of an extension (seconds)"),
                                  validators=[InputRequired(REQUIRED)])
    max_attempts = BoxIntegerField(_l("Tries before giving up"), validators=[InputRequired(REQUIRED)])
    invalid_prompt = StringField(_l("Prompt after a wrong key"))
    timeout_prompt = StringField(_l("Prompt after silence"))

    def key_fields(self):
        return [(k, self._fields[name]) for k, name in KEY_FIELDS.items()]


for _key, _name in KEY_FIELDS.items():
    setattr(MenuForm, _name, StringField(_key))

MENU_ALIASES = {**{f"choices.{k}": name for k, name in KEY_FIELDS.items()}, "id": "menu_id",
                "extensions": "direct_dial"}


def menu_to_form(form: MenuForm, rec: dict) -> None:
    values = {**MENU_DEFAULTS, **rec}
    for name in ("prompt", "operator", "direct_dial", "invalid_prompt", "timeout_prompt"):
        form[name].data = values.get(name)
    for name in ("timeout_s", "inter_digit_s", "max_attempts"):
        form[name].data = _number(values.get(name))
    form.failover.data = values.get("failover") or ""
    choices_ = values.get("choices") or {}
    for key, name in KEY_FIELDS.items():
        form[name].data = choices_.get(key, "")


def menu_from_form(form: MenuForm, menu_id: str) -> dict:
    rec = {"id": menu_id, "prompt": _target(form.prompt), "operator": _target(form.operator),
           "choices": {k: _target(form[name]) for k, name in KEY_FIELDS.items() if _target(form[name])},
           "direct_dial": bool(form.direct_dial.data), "timeout_s": _number(form.timeout_s.data),
           "inter_digit_s": _number(form.inter_digit_s.data), "max_attempts": form.max_attempts.data,
           "invalid_prompt": _target(form.invalid_prompt), "timeout_prompt": _target(form.timeout_prompt)}
    if _target(form.failover):
        rec["failover"] = _target(form.failover)
    return drop_empty(rec)


# -- queues ------------------------------------------------------------------

STRATEGIES = [("rrmemory", _l("Take turns (round robin)")),
              ("leastrecent", _l("The agent idle the longest")),
              ("fewestcalls", _l("The agent with the fewest calls today")),
              ("ringall", _l("Ring everyone at once; the first to answer takes it"))]
RECORDING = [("never", _l("never")), ("on-demand", _l("when the agent presses *1")), ("always", _l("always"))]


class NewQueueForm(BoxForm):
    queue_id = _id_field(_l("Queue ID"))
    name = StringField(_l("Queue name"), validators=[Length(max=64, message=TOO_LONG)])


class QueueForm(BoxForm):
    name = StringField(_l("Queue name"), validators=[Length(max=64, message=TOO_LONG)])
    members = MultiCheckboxField(_l("Agents in this queue"), validate_choice=False)
    strategy = RadioField(_l("Who gets the next call"), choices=choices(STRATEGIES))
    ring_timeout_s = BoxFloatField(_l("Ring each agent for (seconds)"), validators=[InputRequired(REQUIRED)])
    retry_s = BoxFloatField(_l("Before ringing the next agent (seconds)"), validators=[InputRequired(REQUIRED)])
    wrapup_s = BoxFloatField(_l("Pause after each call (seconds)"), validators=[InputRequired(REQUIRED)])
    autopause_after = BoxIntegerField(_l("Pause an agent who misses this many calls in a row (0: never)"),
                                      validators=[InputRequired(REQUIRED)])
    max_wait_s = BoxFloatField(_l("Longest wait before the caller is sent on (seconds)"),
                               validators=[InputRequired(REQUIRED)])
    max_callers = BoxIntegerField(_l("Most callers waiting at once"), validators=[InputRequired(REQUIRED)])
    failover = StringField(_l("Where callers go when nobody answers, the wait is too long or the queue is full"))
    join_empty = BooleanField(_l("Callers may wait while no agent is logged in"))
    leave_when_empty = BooleanField(_l("Waiting callers are sent on when the last agent logs out"))
    announce_every_s = BoxFloatField(_l("Tell callers their place every (seconds, 0: never)"),
                                     validators=[InputRequired(REQUIRED)])
    exit_key = SelectField(_l("Key a waiting caller may press to leave the queue"),
                           choices=choices([("", _l("none"))] + [(k, k) for k in KEYS]))
    exit_target = StringField(_l("Where that key leads"))
    sticky_days = BoxIntegerField(_l("Offer a caller to the agent who last served them, within (days, 0: off)"),
                                  validators=[InputRequired(REQUIRED)])
    sl_threshold_s = BoxFloatField(_l("Answered in time means within (seconds)"),
                                   validators=[InputRequired(REQUIRED)])
    recording = SelectField(_l("Record calls"), choices=choices(RECORDING))


NUMBER_FIELDS = ("ring_timeout_s", "retry_s", "wrapup_s", "autopause_after", "max_wait_s", "max_callers",
                 "announce_every_s", "sticky_days", "sl_threshold_s")
QUEUE_ALIASES = {"id": "queue_id"}


def queue_to_form(form: QueueForm, rec: dict) -> None:
    values = {**QUEUE_DEFAULTS, **rec}
    for name in ("name", "members", "strategy", "join_empty", "leave_when_empty", "exit_key", "recording"):
        form[name].data = values.get(name)
    for name in NUMBER_FIELDS:
        form[name].data = _number(values.get(name))
    form.failover.data = values.get("failover") or "hangup"
    form.exit_target.data = values.get("exit_target") or ""


def queue_from_form(form: QueueForm, queue_id: str) -> dict:
    rec = {"id": queue_id, "name": (form.name.data or "").strip(), "members": list(form.members.data or []),
           "strategy": form.strategy.data, "failover": _target(form.failover),
           "join_empty": bool(form.join_empty.data), "leave_when_empty": bool(form.leave_when_empty.data),
           "exit_key": form.exit_key.data or "", "recording": form.recording.data}
    rec.update({name: _number(form[name].data) for name in NUMBER_FIELDS})
    if rec["exit_key"]:
        rec["exit_target"] = _target(form.exit_target)
    return drop_empty(rec)


# -- business hours ------------------------------------------------------------

WEEKDAYS = [("0", _l("Monday")), ("1", _l("Tuesday")), ("2", _l("Wednesday")), ("3", _l("Thursday")),
            ("4", _l("Friday")), ("5", _l("Saturday")), ("6", _l("Sunday"))]


class NewTimeConditionForm(BoxForm):
    tc_id = _id_field(_l("Name of these hours"))
    open = StringField(_l("When open, calls go to"))
    closed = StringField(_l("When closed, calls go to"))


class TimeConditionForm(WeeklyHoursForm):
    makeup_weekday = SelectField(_l("On an extra working day, open as on"), choices=choices(WEEKDAYS))
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    open = StringField(_l("When open, calls go to"))
    closed = StringField(_l("When closed, calls go to"))

    def day_fields(self):
        return [self[d] for d in DAYS]


TC_ALIASES = {"id": "tc_id", "closed_days": "holidays", "open_target": "open", "closed_target": "closed"}


def tc_to_form(form: TimeConditionForm, rec: dict) -> None:
    hours = rec.get("hours") or {}
    for day in DAYS:
        form[day].data = ", ".join(hours.get(day, []))
    form.holidays.data = "\n".join(rec.get("holidays", []))
    form.extra_workdays.data = "\n".join(rec.get("extra_workdays", []))
    form.makeup_weekday.data = str(rec.get("makeup_weekday", 0))
    form.timezone.data = rec.get("timezone", "Asia/Shanghai")
    form.open.data = rec.get("open", "")
    form.closed.data = rec.get("closed", "")


def tc_from_form(form: TimeConditionForm, tc_id: str) -> dict:
    hours = {}
    for day in DAYS:
        ranges = [r for r in SPLIT.split((form[day].data or "").replace("–", "-")) if r]
        if ranges:
            hours[day] = ranges
    return drop_empty({"id": tc_id, "timezone": form.timezone.data, "hours": hours,
            "holidays": [d for d in SPLIT.split(form.holidays.data or "") if d],
            "extra_workdays": [d for d in SPLIT.split(form.extra_workdays.data or "") if d],
            "makeup_weekday": int(form.makeup_weekday.data or 0),
            "open": _target(form.open), "closed": _target(form.closed)})


class OverrideForm(BoxForm):
    mode = RadioField(_l("Day / night"), default="auto", choices=choices([
        ("auto", _l("Follow the hours")), ("open", _l("Force open")), ("closed", _l("Force closed"))]))


# -- inbound routes --------------------------------------------------------------

class RouteForm(BoxForm):
    number = StringField(_l("Number"), validators=[DataRequired(REQUIRED), Length(max=20, message=TOO_LONG)],
                         description=_l("2 to 20 digits: what a phone of the shop dials, and where a line's "
                                        "calls arrive."))
    name = StringField(_l("Route name"), validators=[Length(max=64, message=TOO_LONG)])
    target = StringField(_l("Calls go to"))


def route_from_form(form: RouteForm) -> dict:
    rec = {"number": _target(form.number), "target": _target(form.target)}
    if _target(form.name):
        rec["name"] = _target(form.name)
    return drop_empty(rec)
