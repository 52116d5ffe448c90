"""Form helpers shared by the page blueprints.

A refused value (``firmware.errors.ConfigError``) names its field, e.g.
``extensions.101.password`` or ``time_conditions.hours.hours.mon``;
:func:`attach_error` puts its message next to the matching form field
(the last part of the path that names a field of the form, or an alias),
or above the form when none matches.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

try:                                   # WTForms >= 3.3 wants objects, older ones tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:                    # pragma: no cover - depends on the installed WTForms
    SelectChoice = None

from firmware.errors import ConfigError
from web.i18n import translate_error


def choices(pairs) -> list:
    """``[(value, label), ...]`` in the form the installed WTForms expects."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value, label) for value, label in pairs]


class BoxForm(FlaskForm):
    """A form whose errors may also come from the config store."""

    form_errors_extra: list[str]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_errors_extra = []

    @property
    def all_form_errors(self) -> list[str]:
        return list(self.form_errors) + self.form_errors_extra


def attach_error(form: BoxForm, exc: ConfigError, aliases: dict[str, str] | None = None) -> str | None:
    """Show ``exc`` next to its field; return the field's name (None: shown above the form)."""
    message = translate_error(exc.message)
    target = None
    for suffix, name in (aliases or {}).items():
        if exc.field == suffix or exc.field.endswith("." + suffix):
            target = name
            break
    if target is None:
        for part in reversed(exc.field.split(".")):
            if part in form._fields and part not in ("csrf_token", "submit"):
                target = part
                break
    if target is None or target not in form._fields:
        form.form_errors_extra.append(f"{exc.field}: {message}")
        return None
    field = form._fields[target]
    field.errors = list(field.errors) + [message]
    return target


class WeeklyHoursForm(BoxForm):
    """The opening hours of each weekday, holidays and make-up days: the
    wizard's hours step and the business-hours page both ask for these."""
    mon = StringField(_l("Monday"))
    tue = StringField(_l("Tuesday"))
    wed = StringField(_l("Wednesday"))
    thu = StringField(_l("Thursday"))
    fri = StringField(_l("Friday"))
    sat = StringField(_l("Saturday"))
    sun = StringField(_l("Sunday"))
    holidays = TextAreaField(_l("Closed days (public holidays)"),
                             description=_l("One date per line, like 2026-10-01."))
    extra_workdays = TextAreaField(_l("Extra working days (make-up days)"),
                                   description=_l("Weekend days the shop works, one date per line."))
