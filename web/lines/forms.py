"""Forms of the lines page: a GSM line, an analog (FXO) line, a SIP trunk,
an outbound route, a text message. Labels are translated lazily.

The forms check only the shape of what was typed (numbers are numbers);
what is allowed is decided by the config store's validation
(``firmware/config/lines.py``), whose refusals are shown next to the
field they name.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import (BooleanField, FloatField, HiddenField, PasswordField, RadioField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from firmware.hw.modem.vendors import VENDORS
from web.forms import BoxForm, choices
from web.wizard.forms import NOT_A_NUMBER, OUT_OF_RANGE, REQUIRED, TOO_LONG, BoxIntegerField

SPLIT = re.compile(r"[\s,;，；、]+")
VENDOR_NAMES = {"sim7600": "SIMCom SIM7600 (4G)", "sim800": "SIMCom SIM800 (2G)", "ec25": "Quectel EC25 (4G)"}


class BoxFloatField(FloatField):
    """A number field whose "not a number" message is ours (translated)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(NOT_A_NUMBER) from None


def split_list(text: str | None) -> list[str]:
    return [item for item in SPLIT.split(text or "") if item]


def whole(value: float | None) -> float | int:
    """3.0 → 3 (the config keeps whole levels as whole numbers)."""
    if value is None:
        return 0
    return int(value) if float(value).is_integer() else value


class LineForm(BoxForm):
    """What every kind of line has."""

    kind = HiddenField()
    original = HiddenField()
    id = StringField(_l("Line name (id)"), validators=[DataRequired(REQUIRED), Length(max=16, message=TOO_LONG)],
                     description=_l("Short, lowercase, e.g. gsm1; used in outbound routes and the logs."))
    name = StringField(_l("Label"), validators=[Optional(), Length(max=64, message=TOO_LONG)],
                       description=_l("Shown on the pages and the display, e.g. Shop mobile."))
    route = SelectField(_l("Incoming calls go to"), validate_choice=False,
                        description=_l("The number (inbound route) that callers on this line reach."))
    enabled = BooleanField(_l("In use"), default=True)

    def record(self) -> dict:
        rec = {"id": (self.id.data or "").strip(), "kind": self.kind.data, "route": self.route.data or "",
               "enabled": bool(self.enabled.data)}
        if (self.name.data or "").strip():
            rec["name"] = self.name.data.strip()
        return rec


class GainsMixin:
    rx_gain_db = BoxFloatField(_l("Level of the caller's voice (dB)"), default=0,
                               validators=[Optional(), NumberRange(-20, 20, message=OUT_OF_RANGE)])
    tx_gain_db = BoxFloatField(_l("Level towards the caller (dB)"), default=0,
                               validators=[Optional(), NumberRange(-20, 20, message=OUT_OF_RANGE)])

    def gains(self) -> dict:
        return {"rx_gain_db": whole(self.rx_gain_db.data), "tx_gain_db": whole(self.tx_gain_db.data)}


class GsmLineForm(GainsMixin, LineForm):
    device = StringField(_l("Modem port"), default="/dev/ttyUSB2",
                         validators=[DataRequired(REQUIRED), Length(max=200, message=TOO_LONG)],
                         description=_l("The modem's AT port, e.g. /dev/ttyUSB2; 'sim' is the simulated modem."))
    vendor = SelectField(_l("Modem"), default="sim7600", choices=choices(
        (v, VENDOR_NAMES.get(v, v)) for v in VENDORS))
    pin = PasswordField(_l("SIM card PIN"), validators=[Optional(), Length(max=8, message=TOO_LONG)],
                        description=_l("4 to 8 digits; leave empty if the SIM has no PIN. A stored PIN is "
                                       "never shown; leave the field empty to keep it."))
    clear_pin = BooleanField(_l("Remove the stored PIN"))
    pcm_device = StringField(_l("Voice port (PCM)"), validators=[Optional(), Length(max=200, message=TOO_LONG)],
                             description=_l("SIM7600: its USB audio port, e.g. /dev/ttyUSB4."))
    sound_device = StringField(_l("Or: sound card"), validators=[Optional(), Length(max=64, message=TOO_LONG)],
                               description=_l("When the voice is on a sound card instead (its name)."))
    power_pin = BoxIntegerField(_l("Power pin (GPIO)"), validators=[Optional(), NumberRange(0, 27,
                                                                                           message=OUT_OF_RANGE)],
                                description=_l("The pin that can switch the modem off and on; empty if none."))

    def record(self) -> dict:
        rec = super().record()
        rec.update(device=(self.device.data or "").strip(), vendor=self.vendor.data,
                   pin=(self.pin.data or "").strip(), pcm_device=(self.pcm_device.data or "").strip(),
                   sound_device=(self.sound_device.data or "").strip(), power_pin=self.power_pin.data,
                   **self.gains())
        return rec


class FxoLineForm(GainsMixin, LineForm):
    device = StringField(_l("Voice modem port"), default="/dev/ttyACM0",
                         validators=[DataRequired(REQUIRED), Length(max=200, message=TOO_LONG)],
                         description=_l("The USB voice modem the analog line is plugged into, e.g. /dev/ttyACM0."))

    def record(self) -> dict:
        rec = super().record()
        rec.update(device=(self.device.data or "").strip(), **self.gains())
        return rec


class TrunkForm(LineForm):
    server = StringField(_l("Provider's server"), validators=[DataRequired(REQUIRED), Length(max=260, message=TOO_LONG)],
                         description=_l("Host name or address, optionally with :port, e.g. sip.provider.example."))
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=128, message=TOO_LONG)],
                             description=_l("Never shown again. Leave empty to keep the stored password."))
    register = BooleanField(_l("Register with the provider"), default=True,
                            description=_l("Untick for an FXO gateway on the shop's network that does not register."))
    allow_from = StringField(_l("Accept calls only from these addresses"),
                             validators=[Optional(), Length(max=400, message=TOO_LONG)],
                             description=_l("IP addresses, separated by commas; empty: the server's address."))

    def record(self) -> dict:
        rec = super().record()
        rec.update(server=(self.server.data or "").strip(), username=(self.username.data or "").strip(),
                   password=self.password.data or "", register=bool(self.register.data),
                   allow_from=split_list(self.allow_from.data))
        return rec


FORMS = {"gsm": GsmLineForm, "fxo": FxoLineForm, "sip": TrunkForm}


class OutboundRouteForm(BoxForm):
    original = HiddenField()
    id = StringField(_l("Route name (id)"), validators=[DataRequired(REQUIRED), Length(max=16, message=TOO_LONG)],
                     description=_l("Short, lowercase, e.g. mobile."))
    patterns = TextAreaField(_l("Numbers or patterns"), validators=[DataRequired(REQUIRED)],
                             description=_l("One per line. _ starts a pattern: X any digit, Z 1-9, N 2-9, [1-5] "
                                            "a set, . one or more of anything. E.g. _1[3-9]XXXXXXXXX for mobiles."))
    lines = StringField(_l("Lines, tried in this order"), validators=[DataRequired(REQUIRED)],
                        description=_l("Line names separated by commas, e.g. gsm1, trunk1."))
    extensions = StringField(_l("Extensions allowed"), default="*",
                             description=_l("* for every extension, or numbers separated by commas."))
    strip = BoxIntegerField(_l("Digits to remove at the front"), default=0,
                            validators=[Optional(), NumberRange(0, 8, message=OUT_OF_RANGE)])
    prepend = StringField(_l("Digits to add at the front"), validators=[Optional(), Length(max=9, message=TOO_LONG)])

    def record(self) -> dict:
        return {"id": (self.id.data or "").strip(), "patterns": split_list(self.patterns.data),
                "lines": split_list(self.lines.data), "extensions": split_list(self.extensions.data) or ["*"],
                "strip": self.strip.data or 0, "prepend": (self.prepend.data or "").strip()}


class TextForm(BoxForm):
    number = StringField(_l("To (mobile number)"), validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)])
    text = TextAreaField(_l("Text"), validators=[DataRequired(REQUIRED), Length(max=1000, message=TOO_LONG)])
    line = SelectField(_l("Send through"), validate_choice=False)


WIZARD_LINE_CHOICES = [
    ("gsm", _l("A mobile SIM card in the box's GSM modem")),
    ("sim", _l("The simulated modem (this computer has no modem)")),     # offered without the hat only
    ("skip", _l("No line for now (add one later on the Lines page)"))]


class WizardLineForm(BoxForm):
    """The wizard's line step: the shop's mobile SIM, the simulated modem, or nothing yet."""

    choice = RadioField(_l("The shop's phone line"), default="skip", choices=choices(WIZARD_LINE_CHOICES))
    device = StringField(_l("Modem port"), default="/dev/ttyUSB2",
                         validators=[Optional(), Length(max=200, message=TOO_LONG)],
                         description=_l("The SmallPBX hat's modem answers on /dev/ttyUSB2."))
    vendor = SelectField(_l("Modem"), default="sim7600", choices=choices(
        (v, VENDOR_NAMES.get(v, v)) for v in VENDORS))
    pcm_device = StringField(_l("Voice port (PCM)"), default="/dev/ttyUSB4",
                             validators=[Optional(), Length(max=200, message=TOO_LONG)],
                             description=_l("The SIM7600's USB audio port. Leave empty for a SIM800 or EC25 (set "
                                            "their sound card on the Lines page)."))
    pin = PasswordField(_l("SIM card PIN"), validators=[Optional(), Length(max=8, message=TOO_LONG)],
                        description=_l("4 to 8 digits; leave empty if the SIM has no PIN. It is tried once: a "
                                       "wrong PIN is never retried, so the SIM does not lock."))
