"""The wizard's forms. Labels are translated lazily (the page's language)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (BooleanField, IntegerField, PasswordField, RadioField, SelectField, SelectMultipleField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from web.forms import BoxForm, WeeklyHoursForm, choices
from web.wizard.plan import DAYS

REQUIRED = _l("Please fill in this field.")
TOO_LONG = _l("must be at most %(max)d characters")
OUT_OF_RANGE = _l("must be from %(min)s to %(max)s")
NOT_A_NUMBER = _l("must be a whole number")


class PasswordForm(BoxForm):
    username = StringField(_l("Admin user name"), default="admin",
                           validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)],
                             description=_l("At least 10 characters, at least 5 different ones; "
                                            "not a common password and not the user name."))
    confirm = PasswordField(_l("Password again"), validators=[DataRequired(REQUIRED)])


class RegionForm(BoxForm):
    language = SelectField(_l("Language of the box (voice prompts, display)"),
                           choices=choices([("zh_CN", "简体中文"), ("en", "English")]))
    timezone = SelectField(_l("Time zone"), validate_choice=False,
                           description=_l("Business hours and today's numbers follow this zone."))


class ExtensionForm(BoxForm):
    number = StringField(_l("Extension number"),
                         validators=[DataRequired(REQUIRED), Length(max=6, message=TOO_LONG)],
                         description=_l("2 to 6 digits, e.g. 201."))
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64, message=TOO_LONG)],
                       description=_l("Who uses this phone, e.g. Wang Fang."))
    web_login = BooleanField(_l("Also make a web login for this agent (to see own calls and pause)"),
                             default=True)


class BoxIntegerField(IntegerField):
    """An integer field whose "not a number" message is ours (translated)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(NOT_A_NUMBER) from None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class HoursForm(WeeklyHoursForm):
    closed = RadioField(_l("When the shop is closed, callers"), default="announcement",
                        choices=choices([("announcement", _l("hear that the shop is closed")),
                                 ("voicemail", _l("may leave a voice message"))]))

    def day_fields(self):
        return [getattr(self, d) for d in DAYS]


class GreetingForm(BoxForm):
    mode = RadioField(_l("Greeting"), default="default",
                      choices=choices([("default", _l("Standard greeting (\"Welcome. For sales, press 1 …\")")),
                               ("tts", _l("Type a text; the box speaks it")),
                               ("upload", _l("Upload a recording (WAV or MP3)")),
                               ("phone", _l("Record it by phone: the box calls one of your extensions"))]))
    text = TextAreaField(_l("Text to speak"), validators=[Optional(), Length(max=300, message=TOO_LONG)],
                         description=_l("For example: Welcome to Li's bakery. Please hold, we will be with "
                                        "you shortly."))
    audio = FileField(_l("Recording"), description=_l("At most 20 MB."))
    extension = SelectField(_l("Call this extension"), validate_choice=False,
                            description=_l("Answer, wait for the beep, say the greeting, then press # or hang up."))


class QueueForm(BoxForm):
    name = StringField(_l("Queue name"), validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)])
    strategy = RadioField(_l("Who gets the next call"), default="rrmemory", choices=choices([
        ("rrmemory", _l("Take turns (round robin)")),
        ("leastrecent", _l("The agent idle the longest")),
        ("fewestcalls", _l("The agent with the fewest calls today")),
        ("ringall", _l("Ring everyone at once; the first to answer takes it"))]))
    members = MultiCheckboxField(_l("Agents in this queue"), validate_choice=False)
    ring_timeout_s = BoxIntegerField(_l("Ring each agent for (seconds)"), default=20,
                                  validators=[InputRequired(REQUIRED), NumberRange(3, 120, message=OUT_OF_RANGE)])
    wrapup_s = BoxIntegerField(_l("Pause after each call (seconds)"), default=10,
                            validators=[InputRequired(REQUIRED), NumberRange(0, 600, message=OUT_OF_RANGE)])
    recording = SelectField(_l("Record calls"), default="never", choices=choices([
        ("never", _l("never")), ("on-demand", _l("when the agent presses *1")), ("always", _l("always"))]))
    route_number = StringField(_l("Number to reach this queue"), default="600",
                               validators=[DataRequired(REQUIRED), Length(max=20, message=TOO_LONG)],
                               description=_l("Any phone of the shop can dial it to hear what callers hear. "
                                              "Phone lines will lead here too."))


class ContinueForm(BoxForm):
    """A step with nothing to fill in (the CSRF token only)."""


