"""Refusals of the call center tables in the page's language.

The config store's messages are English (``firmware/config/callcenter.py``,
``firmware/telephony/timeconditions.py``). The fixed ones an owner can meet
on these pages are listed here for the catalogue (``callcenter.po``); the
ones carrying a value are matched by :data:`PATTERNS` and translated with
it. Anything else goes on to :func:`web.i18n.translate_error`.
"""
from __future__ import annotations

import re

from flask_babel import gettext

from firmware.errors import ConfigError
from web.i18n import N_, translate_error

FIRMWARE_MESSAGES = [
    N_("must be 1-32 lowercase letters, digits, '-' or '_'"),
    N_("must be a prompt name (letters, digits, '-' or '_')"),
    N_("must be a destination like 'queue:sales' or 'hangup'"),
    N_("points at this time condition itself"),
    N_("a choice key is one of 0-9, * or #"),
    N_("needs a prompt name"),
    N_("is not a known field"),
    N_("must be one key (0-9, * or #) or empty"),
    N_("must be empty, open or closed"),
    N_("must be open, closed or empty"),
    N_("must map keys to destinations"),
    N_("must map days (mon..sun) to lists like '09:00-18:00'"),
    N_("must be a list like ['09:00-18:00']"),
    N_("must be a list of dates like '2026-10-01'"),
    N_("use 0 (Monday) .. 6 (Sunday)"),
    N_("is used twice"),
    N_("no such time condition"),
]

PATTERNS = [
    (re.compile(r"unknown destination kind '(?P<value>.*)'"), N_("%(value)s is not a kind of destination")),
    (re.compile(r"destination '(?P<value>.*)' needs a name after ':'"),
     N_("destination %(value)s needs a name after the colon")),
    (re.compile(r"(?P<value>.+) also in holidays\.closed_days; a day is either closed or worked"),
     N_("%(value)s is a closed day too; a day is either closed or worked")),
    (re.compile(r"unknown time zone '(?P<value>.*)'.*"), N_("%(value)s is not a known time zone")),
]


def translate(message: str) -> str:
    for pattern, msgid in PATTERNS:
        match = pattern.fullmatch(message or "")
        if match:
            return gettext(msgid, **match.groupdict())
    return translate_error(message)


def localized(exc: ConfigError) -> ConfigError:
    """The same refusal, its message in the page's language (for ``attach_error``)."""
    return ConfigError(exc.field, translate(exc.message))
