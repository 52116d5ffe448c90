"""What a valid SmallPBX configuration looks like.

The config store calls :func:`validate` before every write; a document
that fails is never written, so the box always runs on a valid config.
Errors name the field (``extensions.101.name``) so the CLI and the web
page can point at it.

The document is tinydb's on-disk shape: ``{table: {doc_id: record}}``.
"""
from __future__ import annotations

import re
from typing import Any

from firmware.errors import ConfigError

EXTENSION_NUMBER = re.compile(r"^[1-9][0-9]{1,5}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
REALM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
LANGUAGES = ("en", "zh_CN")

DEFAULT_SETTINGS: dict[str, Any] = {
    "realm": "smallpbx",
    "language": "en",
    # None: as many calls as the media engine allows (read at start-up).
    "max_calls": None,
    # Requests per 2 s from one address before it is banned (Kamailio pike).
    "flood_limit": 16,
    # New calls per second into the core (see kamailio.cfg.tmpl: pjsua's
    # socket budget). 10 is safe for the PyPI build's 64-socket ioqueue.
    "core_call_rate": 10,
    # Recordings older than this or beyond this size are deleted, oldest first.
    "recording_keep_days": 90,
    "recording_max_mb": 2048,
    # Front panel hat (BCM pin numbers); applied at the core's start.
    "panel_display": "oled",
    "panel_pins": {"line1": 5, "line2": 6, "agents": 13, "waiting": 19, "fault": 26, "button": 21},
    # Line-down/recovered alerts: an SMS through another working line, and
    # an e-mail through an SMTP relay when one is set ("host:port").
    "alert_sms_to": "",
    "alert_email_to": "",
    "smtp_server": "",
    "smtp_from": "",
    # A line that fails again within this many seconds of its last alert
    # (flapping) is told once the time has passed, if it is still down.
    "alert_hold_s": 300,
}
PANEL_DISPLAYS = ("oled", "lcd16x2", "lcd20x4", "none")
I2C_PINS = (2, 3)  # SDA, SCL: taken by the display bus


def _check_text(field: str, value: Any, *, max_len: int, allow_empty: bool = True) -> None:
    if not isinstance(value, str):
        raise ConfigError(field, "must be text")
    if not allow_empty and not value.strip():
        raise ConfigError(field, "must not be empty")
    if len(value) > max_len:
        raise ConfigError(field, f"must be at most {max_len} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigError(field, "must not contain control characters")
    if '"' in value or "\\" in value:
        # Names end up in SIP display names; keep them quotable.
        raise ConfigError(field, 'must not contain " or \\')


def validate_settings(settings: dict) -> None:
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ConfigError(f"settings.{sorted(unknown)[0]}", "is not a known setting")
    realm = settings.get("realm")
    if not isinstance(realm, str) or not REALM.match(realm):
        raise ConfigError("settings.realm", "must be a host-like name (letters, digits, '.', '-')")
    if settings.get("language") not in LANGUAGES:
        raise ConfigError("settings.language", f"must be one of {', '.join(LANGUAGES)}")
    max_calls = settings.get("max_calls")
    if max_calls is not None and (not isinstance(max_calls, int) or isinstance(max_calls, bool)
                                  or not 1 <= max_calls <= 512):
        raise ConfigError("settings.max_calls", "must be empty or a whole number from 1 to 512")
    flood = settings.get("flood_limit")
    if not isinstance(flood, int) or isinstance(flood, bool) or not 4 <= flood <= 100000:
        raise ConfigError("settings.flood_limit", "must be a whole number from 4 to 100000")
    for name, low, high in (("recording_keep_days", 1, 3650), ("recording_max_mb", 1, 1_000_000),
                            ("alert_hold_s", 0, 86400)):
        value = settings.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(f"settings.{name}", f"must be a whole number from {low} to {high}")
    if settings.get("panel_display") not in PANEL_DISPLAYS:
        raise ConfigError("settings.panel_display", f"must be one of {', '.join(PANEL_DISPLAYS)}")
    pins = settings.get("panel_pins")
    if not isinstance(pins, dict):
        raise ConfigError("settings.panel_pins", "must map line1, line2, agents, waiting, fault, button to GPIO numbers")
    used: dict[int, str] = {}
    for name, pin in pins.items():
        field = f"settings.panel_pins.{name}"
        if name not in DEFAULT_SETTINGS["panel_pins"]:
            raise ConfigError(field, "is not a panel device")
        if pin is None:
            continue  # this box has no such LED/button
        if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 27:
            raise ConfigError(field, "must be a GPIO number from 0 to 27, or empty")
        if pin in I2C_PINS and settings.get("panel_display") != "none":
            raise ConfigError(field, f"GPIO{pin} carries the display's I2C bus")
        if pin in used:
            raise ConfigError(field, f"GPIO{pin} is already used by {used[pin]}")
        used[pin] = name
    for name in ("alert_sms_to", "alert_email_to", "smtp_server", "smtp_from"):
        if not isinstance(settings.get(name), str):
            raise ConfigError(f"settings.{name}", "must be text")
    if not re.fullmatch(r"(\+?[0-9]{3,20})?", settings["alert_sms_to"]):
        raise ConfigError("settings.alert_sms_to", "must be a phone number, or empty")
    for name in ("alert_email_to", "smtp_from"):
        if not re.fullmatch(r"([^@\s,;<>\"]{1,64}@[A-Za-z0-9.-]{1,190})?", str(settings.get(name))):
            raise ConfigError(f"settings.{name}", "must be one e-mail address, or empty")
    if not re.fullmatch(r"([A-Za-z0-9.-]{1,190}:[0-9]{1,5})?", str(settings.get("smtp_server"))):
        raise ConfigError("settings.smtp_server", "must be host:port, or empty")
    rate = settings.get("core_call_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= 1000:
        raise ConfigError("settings.core_call_rate", "must be a whole number from 1 to 1000")


def validate_extension(ext: dict) -> None:
    number = ext.get("number")
    label = f"extensions.{number}" if isinstance(number, str) else "extensions.?"
    if not isinstance(number, str) or not EXTENSION_NUMBER.match(number):
        raise ConfigError(f"{label}.number", "must be 2 to 6 digits, not starting with 0")
    _check_text(f"{label}.name", ext.get("name", ""), max_len=64)
    for key in ("ha1", "ha1b"):
        if not isinstance(ext.get(key), str) or not HEX32.match(ext[key]):
            raise ConfigError(f"{label}.{key}", "must be a 32-digit lowercase hex digest")
    known = {"number", "name", "ha1", "ha1b", "created"}
    unknown = set(ext) - known
    if unknown:
        raise ConfigError(f"{label}.{sorted(unknown)[0]}", "is not a known field")


def validate(document: dict) -> None:
    """Raise :class:`ConfigError` unless ``document`` is a valid config."""
    if not isinstance(document, dict):
        raise ConfigError("(document)", "must be an object of tables")
    unknown = set(document) - {"settings", "extensions", "routes", "menus", "queues", "time_conditions", "voicemail",
                               "lines", "outbound_routes"}
    if unknown:
        raise ConfigError(sorted(unknown)[0], "is not a known table")
    settings_rows = list((document.get("settings") or {}).values())
    if len(settings_rows) > 1:
        raise ConfigError("settings", "must hold one record")
    if settings_rows:
        # Fields added by a newer firmware take their defaults.
        validate_settings({**DEFAULT_SETTINGS, **settings_rows[0]})
    seen: set[str] = set()
    for ext in (document.get("extensions") or {}).values():
        validate_extension(ext)
        if ext["number"] in seen:
            raise ConfigError(f"extensions.{ext['number']}.number", "is used twice")
        seen.add(ext["number"])
    # Routes, menus and queues, and that every destination exists.
    from firmware.config import callcenter, lines
    center = callcenter.build(document)
    lines.build(document, set(center.routes))
