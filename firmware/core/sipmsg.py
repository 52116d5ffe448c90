"""Small, total readers for the raw SIP text pjsua2 hands us.

pjsua2's ``SipRxData.wholeMsg`` is the message as received. These helpers
never raise on malformed input: they return ``None``/``""`` and the caller
refuses the call, so a strange message can't crash the core.
"""
from __future__ import annotations

from urllib.parse import unquote

MAX_SCAN = 16384


def request_line(message: str) -> str:
    return message[:MAX_SCAN].split("\n", 1)[0].strip()


def request_uri_user(message: str) -> str | None:
    """The user part of the Request-URI, unescaped (``*43`` from ``sip:%2A43@..``)."""
    parts = request_line(message).split(" ")
    if len(parts) != 3 or not parts[2].startswith("SIP/"):
        return None
    uri = parts[1]
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips", "tel"):
        return None
    if scheme.lower() == "tel":
        return unquote(rest.split(";", 1)[0]) or None
    user, at, _host = rest.partition("@")
    if not at:
        return None
    return unquote(user.split(";", 1)[0]) or None


def header(message: str, name: str) -> str | None:
    """The first header called ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    head = message[:MAX_SCAN].split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    for line in head.splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == wanted:
            return value.strip()
    return None


def from_user(message: str) -> str | None:
    """The user part of the From header's URI (a trunk caller's number), or None.

    Compact form ``f:`` is accepted; anything odd gives None.
    """
    value = header(message, "From") or header(message, "f")
    if not value:
        return None
    start = value.find("<")
    uri = value[start + 1:value.find(">", start)] if start >= 0 else value.split(";", 1)[0]
    scheme, sep, rest = uri.strip().partition(":")
    if not sep or scheme.lower() not in ("sip", "sips", "tel"):
        return None
    user = rest.split(";", 1)[0] if scheme.lower() == "tel" else rest.partition("@")[0]
    user = unquote(user.split(";", 1)[0]).strip()
    return user if user and len(user) <= 64 and all(c.isalnum() or c in "+*#-._" for c in user) else None
