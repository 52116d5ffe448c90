"""Messages of ``firmware/config/lines.py``, ``firmware/telephony/outbound.py``
and the core's text commands, in the page's language.

The fixed ones are listed with ``N_`` so they are extracted into
``translations/zh_Hans/LC_MESSAGES/system.po``; those carrying a value are
matched by pattern and translated with it. Anything else goes to
:func:`web.i18n.translate_error` (the common firmware messages).
"""
from __future__ import annotations

import re

from flask_babel import gettext

from web.i18n import N_, translate_error

LINE_MESSAGES = [
    N_("must be 1-16 lowercase letters, digits or '-', starting with a letter"),
    N_("must be 1-16 lowercase letters, digits or '-'"),
    N_("is not a known field"),
    N_("must be one of gsm, fxo, sip"),
    N_("must be a /dev/ path, a pyserial URL or 'sim'"),
    N_("must be a sound card's name (at most 64 characters)"),
    N_("a line's voice is on a PCM port or a sound card, not both"),
    N_("must be a level from -20 to 20 dB"),
    N_("must be one of sim7600, sim800, ec25"),
    N_("must be 4 to 8 digits, or empty"),
    N_("must be the number of an inbound route"),
    N_("must be a GPIO number from 0 to 27, or empty"),
    N_("must be true or false"),
    N_("must be text of at most 64 characters"),
    N_("must be a host name or address, optionally with :port"),
    N_("must be 1-64 letters, digits or + * # . _ -"),
    N_("must be text of at most 128 characters"),
    N_("is needed to register to a provider"),
    N_("must be a whole number of seconds from 60 to 3600"),
    N_("must list IP addresses"),
    N_("must list the gateway's address when it does not register"),
    N_("must list at least one number or pattern"),
    N_("must list at least one line"),
    N_("must list existing extensions, or '*' for all"),
    N_("must be a whole number from 0 to 8"),
    N_("must be up to 8 digits, optionally after +"),
    N_("is used twice"),
    N_("two lines use the same device"),
    N_("an empty pattern matches nothing"),
    N_("no line is up to send a text"),
    N_("a text must have 1 to 1000 characters"),
]

PATTERNS = [
    (re.compile(r"'(?P<value>.*)' is not a line"), N_("%(value)s is not a line")),
    (re.compile(r"'(?P<value>.*)' is neither a number nor a pattern starting with _"),
     N_("%(value)s is neither a number nor a pattern starting with _")),
    (re.compile(r"bad set in pattern '(?P<value>.*)'"), N_("bad set in pattern %(value)s")),
    (re.compile(r"'(?P<char>.*)' has no meaning in pattern '(?P<value>.*)'"),
     N_("%(char)s has no meaning in pattern %(value)s")),
    (re.compile(r"not a phone number: '(?P<value>.*)'"), N_("not a phone number: %(value)s")),
    (re.compile(r"no line '(?P<value>.*)'"), N_("there is no line %(value)s")),
]


def translate(message: str) -> str:
    """A line-related message in the page's language, if known."""
    for pattern, msgid in PATTERNS:
        match = pattern.fullmatch(message or "")
        if match:
            return gettext(msgid, **match.groupdict())
    return translate_error(message)
