"""Phone lines and outbound routes as stored in the config document.

    lines: {"id": "gsm1", "kind": "gsm", "name": "Shop mobile",
            "device": "/dev/ttyUSB2", "vendor": "sim7600", "pin": "1234",
            "pcm_device": "/dev/ttyUSB4", "route": "600", "power_pin": 17,
            "enabled": true}
    outbound_routes: {"id": "mobile", "patterns": ["_1[3-9]XXXXXXXXX"],
                      "extensions": ["*"], "lines": ["gsm1"],
                      "strip": 0, "prepend": ""}

``device`` is a serial device path or any pyserial URL; ``sim`` means the
simulated modem ``smallpbx run`` starts on a machine without the hat. A
line's ``route`` is the inbound route (``routes`` table) its calls take,
so every line, whatever its kind, reaches the dialplan the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from firmware.errors import ConfigError
from firmware.hw.modem.vendors import VENDORS
from firmware.telephony.outbound import OutboundRoute, compile_pattern

LINE_ID = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
LINE_KINDS = ("gsm", "fxo", "sip")
FXO_FIELDS = {"id", "kind", "name", "device", "rx_gain_db", "tx_gain_db", "route", "enabled"}
LINE_FIELDS = {"id", "kind", "name", "device", "vendor", "pin", "pcm_device", "sound_device", "rx_gain_db",
               "tx_gain_db", "route", "power_pin", "enabled"}
TRUNK_FIELDS = {"id", "kind", "name", "server", "username", "password", "register", "expires", "allow_from",
                "route", "enabled"}
SERVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?$")
SIP_USER = re.compile(r"^[A-Za-z0-9+*#._-]{1,64}$")
IP = re.compile(r"^[0-9a-fA-F:.]{2,45}$")
DEVICE = re.compile(r"^(sim|/dev/[A-Za-z0-9/._-]+|(loop|socket|rfc2217|spy|alt|hwgrep)://[^\s]+)$")
SIM_PIN = re.compile(r"^[0-9]{4,8}$")
ROUTE_FIELDS = {"id", "patterns", "extensions", "lines", "strip", "prepend"}


@dataclass(frozen=True)
class LinesConfig:
    lines: dict[str, dict]                 # id -> the validated record (enabled or not)
    outbound: list[OutboundRoute]


def _line(rec: dict, routes: set[str]) -> dict:
    line_id = rec.get("id")
    if not isinstance(line_id, str) or not LINE_ID.match(line_id):
        raise ConfigError("lines.?.id", "must be 1-16 lowercase letters, digits or '-', starting with a letter")
    label = f"lines.{line_id}"
    if rec.get("kind") == "sip":
        return _trunk(rec, routes, label)
    unknown = set(rec) - (FXO_FIELDS if rec.get("kind") == "fxo" else LINE_FIELDS)
    if unknown:
        raise ConfigError(f"{label}.{sorted(unknown)[0]}", "is not a known field")
    if rec.get("kind", "gsm") not in LINE_KINDS:
        raise ConfigError(f"{label}.kind", f"must be one of {', '.join(LINE_KINDS)}")
    for key in ("device", "pcm_device"):
        value = rec.get(key) or ""
        if (key == "device" or value) and (not isinstance(value, str) or not DEVICE.match(value)):
            raise ConfigError(f"{label}.{key}", "must be a /dev/ path, a pyserial URL or 'sim'")
    sound = rec.get("sound_device") or ""
    if sound and (not isinstance(sound, str) or len(sound) > 64 or any(ord(c) < 32 for c in sound)):
        raise ConfigError(f"{label}.sound_device", "must be a sound card's name (at most 64 characters)")
    if sound and rec.get("pcm_device"):
        raise ConfigError(f"{label}.sound_device", "a line's voice is on a PCM port or a sound card, not both")
    for key in ("rx_gain_db", "tx_gain_db"):
        gain = rec.get(key, 0)
        if not isinstance(gain, (int, float)) or isinstance(gain, bool) or not -20 <= gain <= 20:
            raise ConfigError(f"{label}.{key}", "must be a level from -20 to 20 dB")
    if rec.get("vendor", "sim7600") not in VENDORS:
        raise ConfigError(f"{label}.vendor", f"must be one of {', '.join(VENDORS)}")
    pin = rec.get("pin") or ""
    if pin and (not isinstance(pin, str) or not SIM_PIN.match(pin)):
        raise ConfigError(f"{label}.pin", "must be 4 to 8 digits, or empty")
    if rec.get("route") not in routes:
        raise ConfigError(f"{label}.route", "must be the number of an inbound route")
    power = rec.get("power_pin")
    if power is not None and (not isinstance(power, int) or isinstance(power, bool) or not 0 <= power <= 27):
        raise ConfigError(f"{label}.power_pin", "must be a GPIO number from 0 to 27, or empty")
    if not isinstance(rec.get("enabled", True), bool):
        raise ConfigError(f"{label}.enabled", "must be true or false")
    name = rec.get("name", "")
    if not isinstance(name, str) or len(name) > 64:
        raise ConfigError(f"{label}.name", "must be text of at most 64 characters")
    if rec.get("kind") == "fxo":
        return {"rx_gain_db": 0, "tx_gain_db": 0, "enabled": True, "name": "", **rec}
    return {"kind": "gsm", "vendor": "sim7600", "pin": "", "pcm_device": "", "sound_device": "",
            "rx_gain_db": 0, "tx_gain_db": 0, "power_pin": None, "enabled": True, "name": "", **rec}


def _trunk(rec: dict, routes: set[str], label: str) -> dict:
    """A provider's SIP trunk, or an FXO gateway reached as one."""
    unknown = set(rec) - TRUNK_FIELDS
    if unknown:
        raise ConfigError(f"{label}.{sorted(unknown)[0]}", "is not a known field")
    if not isinstance(rec.get("server"), str) or not SERVER.match(rec["server"]):
        raise ConfigError(f"{label}.server", "must be a host name or address, optionally with :port")
    if not isinstance(rec.get("username"), str) or not SIP_USER.match(rec["username"]):
        raise ConfigError(f"{label}.username", "must be 1-64 letters, digits or + * # . _ -")
    password = rec.get("password", "")
    register = rec.get("register", True)
    if not isinstance(register, bool):
        raise ConfigError(f"{label}.register", "must be true or false")
    if not isinstance(password, str) or len(password) > 128 or any(ord(c) < 32 for c in password):
        raise ConfigError(f"{label}.password", "must be text of at most 128 characters")
    if register and not password:
        # Never register (or call out) to a provider without authentication.
        raise ConfigError(f"{label}.password", "is needed to register to a provider")
    expires = rec.get("expires", 300)
    if not isinstance(expires, int) or isinstance(expires, bool) or not 60 <= expires <= 3600:
        raise ConfigError(f"{label}.expires", "must be a whole number of seconds from 60 to 3600")
    allow = rec.get("allow_from", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) and IP.match(a) for a in allow):
        raise ConfigError(f"{label}.allow_from", "must list IP addresses")
    if not register and not allow and not re.match(r"^[0-9.]+(:[0-9]+)?$", rec["server"]):
        raise ConfigError(f"{label}.allow_from", "must list the gateway's address when it does not register")
    if rec.get("route") not in routes:
        raise ConfigError(f"{label}.route", "must be the number of an inbound route")
    if not isinstance(rec.get("enabled", True), bool):
        raise ConfigError(f"{label}.enabled", "must be true or false")
    return {"name": "", "register": True, "expires": 300, "allow_from": [], "enabled": True,
            "password": "", **rec}


def _outbound(rec: dict, lines: set[str], extensions: set[str]) -> OutboundRoute:
    route_id = rec.get("id")
    if not isinstance(route_id, str) or not LINE_ID.match(route_id):
        raise ConfigError("outbound_routes.?.id", "must be 1-16 lowercase letters, digits or '-'")
    label = f"outbound_routes.{route_id}"
    unknown = set(rec) - ROUTE_FIELDS
    if unknown:
        raise ConfigError(f"{label}.{sorted(unknown)[0]}", "is not a known field")
    patterns = rec.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{label}.patterns", "must list at least one number or pattern")
    for i, pattern in enumerate(patterns):
        try:
            compile_pattern(pattern if isinstance(pattern, str) else "")
        except ValueError as exc:
            raise ConfigError(f"{label}.patterns.{i}", str(exc)) from None
    route_lines = rec.get("lines")
    if not isinstance(route_lines, list) or not route_lines:
        raise ConfigError(f"{label}.lines", "must list at least one line")
    for line in route_lines:
        if line not in lines:
            raise ConfigError(f"{label}.lines", f"{line!r} is not a line")
    exts = rec.get("extensions", ["*"])
    if not isinstance(exts, list) or any(e != "*" and e not in extensions for e in exts):
        raise ConfigError(f"{label}.extensions", "must list existing extensions, or '*' for all")
    strip = rec.get("strip", 0)
    if not isinstance(strip, int) or isinstance(strip, bool) or not 0 <= strip <= 8:
        raise ConfigError(f"{label}.strip", "must be a whole number from 0 to 8")
    prepend = rec.get("prepend", "")
    if not isinstance(prepend, str) or not re.fullmatch(r"\+?[0-9]{0,8}", prepend):
        raise ConfigError(f"{label}.prepend", "must be up to 8 digits, optionally after +")
    return OutboundRoute(route_id, tuple(patterns), tuple(route_lines), tuple(exts), strip, prepend)


def build(document: dict, routes: set[str]) -> LinesConfig:
    """Lines and outbound routes of a config document; raises ConfigError."""
    extensions = {e["number"] for e in (document.get("extensions") or {}).values()}
    lines: dict[str, dict] = {}
    for rec in (document.get("lines") or {}).values():
        line = _line(rec, routes)
        if line["id"] in lines:
            raise ConfigError(f"lines.{line['id']}.id", "is used twice")
        lines[line["id"]] = line
    devices = [line["device"] for line in lines.values() if line["kind"] != "sip" and line["device"] != "sim"]
    if len(devices) != len(set(devices)):
        raise ConfigError("lines", "two lines use the same device")
    outbound = []
    for rec in (document.get("outbound_routes") or {}).values():
        route = _outbound(rec, set(lines), extensions)
        if any(r.id == route.id for r in outbound):
            raise ConfigError(f"outbound_routes.{route.id}.id", "is used twice")
        outbound.append(route)
    return LinesConfig(lines, outbound)
