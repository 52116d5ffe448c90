"""Languages of the web pages: English and Simplified Chinese (Flask-Babel).

The catalogues live as ``web/translations/<locale>/LC_MESSAGES/messages.po``
(the source, kept in git). The ``.mo`` files Flask-Babel reads are build
outputs: :func:`compile_catalogs` makes them at app start into
``DATA/web/translations`` whenever a ``.po`` is newer than its ``.mo``, so
no manual step exists and nothing compiled is committed.

The page language is the one the visitor chose with the language link
(kept in the session), else the best match of the browser's
``Accept-Language`` among :data:`LANGUAGES`.

Messages raised by the firmware (``ConfigError.message``) are English; the
fixed ones are listed in :data:`FIRMWARE_MESSAGES` so they are extracted into
the catalogue, and :func:`translate_error` looks each message up at display
time (an unknown one is shown as it is).
"""
from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request, session
from flask_babel import gettext

from firmware.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent / "translations"
#: page language code -> Babel locale
LANGUAGES = {"en": "en", "zh": "zh_Hans"}
#: page language -> the box's language setting (prompts, panel)
BOX_LANGUAGE = {"en": "en", "zh": "zh_CN"}
LANGUAGE_NAMES = {"en": "English", "zh": "简体中文"}


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def read_catalog(folder: Path):
    """All ``.po`` files of one language folder as one catalogue.

    Each part of the page keeps its own file (``messages.po``,
    ``callcenter.po`` ...), so they can grow without stepping on each
    other; a message in two files keeps the first translation.
    """
    merged = None
    for po in sorted(folder.glob("*.po"), key=lambda p: (p.name != "messages.po", p.name)):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=folder.parent.name)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if message.id and message.id not in merged:
                merged[message.id] = message
    return merged


def compile_catalogs(target: Path, source: Path = SOURCE_DIR) -> list[Path]:
    """Compile each language's ``.po`` files into one ``messages.mo`` under ``target``."""
    made = []
    for folder in sorted(source.glob("*/LC_MESSAGES")):
        sources = list(folder.glob("*.po"))
        if not sources:
            continue
        mo = target / folder.relative_to(source) / "messages.mo"
        if mo.exists() and mo.stat().st_mtime >= max(po.stat().st_mtime for po in sources):
            continue
        catalog = read_catalog(folder)
        mo.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        atomic_write_bytes(mo, buf.getvalue(), mode=0o644)
        made.append(mo)
    if made:
        log.info("compiled %d translation catalogue(s) into %s", len(made), target)
    return made


def page_language() -> str:
    """``en`` or ``zh`` for this request."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans", "zh-SG", "zh-TW", "zh-HK"])
    return "zh" if best and best.startswith("zh") else "en"


def select_locale() -> str:
    return LANGUAGES[page_language()]


def translate_error(message: str) -> str:
    """A firmware or web error message in the page's language, if known."""
    if not message:
        return message
    for pattern, msgid in FIRMWARE_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return gettext(msgid, **{k: v for k, v in match.groupdict().items() if v is not None})
    return gettext(message)


# Fixed messages of firmware/config (schema.py, extensions.py, callcenter.py,
# prompts.py) that an owner meets on the setup pages.
FIRMWARE_MESSAGES = [
    N_("must be at least 10 characters"),
    N_("must not contain the extension number"),
    N_("must use at least 5 different characters"),
    N_("must be printable ASCII without spaces"),
    N_("must be 2 to 6 digits, not starting with 0"),
    N_("exists already"),
    N_("no such extension"),
    N_("must be text"),
    N_("must not be empty"),
    N_("must be at most 64 characters"),
    N_("must not contain control characters"),
    N_('must not contain " or \\'),
    N_("must be one of en, zh_CN"),
    N_("must be 2-20 digits"),
    N_("is already used by a route or an extension"),
    N_("must be a list of extension numbers"),
    N_("lists an extension twice"),
    N_("must be one of rrmemory, leastrecent, fewestcalls, ringall"),
    N_("must be a whole number"),
    N_("must be a number"),
    N_("must be a time zone name like Asia/Shanghai"),
    N_("must be a .wav or .mp3 file"),
    N_("must be an audio file of at most 20 MB"),
    N_("is shorter than 0.1 s"),
    N_("sox is not installed, so audio cannot be converted"),
    N_("unknown day; use mon, tue, wed, thu, fri, sat or sun"),
    N_("must be always, never or on-demand"),
    N_("cannot change while extensions exist (their passwords depend on it)"),
]

# Firmware messages that carry a value: matched, then translated with it.
FIRMWARE_PATTERNS = [
    (re.compile(r"'(?P<value>.*)' is not a date like '2026-10-01'"), N_("%(value)s is not a date like 2026-10-01")),
    (re.compile(r"'(?P<value>.*)' is not a real date"), N_("%(value)s is not a real date")),
    (re.compile(r"'(?P<value>.*)' is not a range like '09:00-18:00'"),
     N_("%(value)s is not a range like 09:00-18:00")),
    (re.compile(r"'(?P<value>.*)' is not a valid time of day"), N_("%(value)s is not a valid time of day")),
    (re.compile(r"(?P<value>\S+) ends before it starts; .*"),
     N_("%(value)s ends before it starts; split ranges across midnight at 24:00")),
    (re.compile(r"(?P<a>\S+) and (?P<b>\S+) overlap"), N_("%(a)s and %(b)s overlap")),
    (re.compile(r"extension (?P<value>\S+) does not exist"), N_("extension %(value)s does not exist")),
    (re.compile(r"points to (?P<value>\S+), which does not exist"),
     N_("points to %(value)s, which does not exist")),
    (re.compile(r"must be from (?P<low>\S+) to (?P<high>\S+)"), N_("must be from %(low)s to %(high)s")),
    # sox's own words (and the upload's temporary path) are not for the page: only that it failed.
    (re.compile(r"could not be read as audio(: .*)?", re.S), N_("could not be read as audio")),
]
