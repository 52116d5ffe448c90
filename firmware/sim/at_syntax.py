"""AT command-line syntax for the emulated modem: splitting, parameters, errors.

Owns: how one received line becomes commands (3GPP TS 27.007 §4 syntax as
the modules accept it), how parameters are parsed, and how a failure becomes
a final result code (``ERROR``, ``+CME ERROR``, ``+CMS ERROR``, following
``AT+CMEE``). Pure functions: no I/O, no modem state, no vendor knowledge.
"""
from __future__ import annotations

import re

# +CME ERROR texts for AT+CMEE=2 (3GPP TS 27.007 §9.2).
CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    16: "incorrect password",
    30: "no network service",
    50: "Incorrect parameters",
}

# What "+CMD", "+CMD?", "+CMD=?" and "+CMD=..." are called in the handlers.
OPS = {None: "exec", "?": "read", "=?": "test", "=": "set"}
EXTENDED_PREFIXES = "+^$#%*"
# V.25ter names answered as their 3GPP equivalents.
ALIASES = {"+GSN": "+CGSN", "+GMI": "+CGMI", "+GMM": "+CGMM", "+GMR": "+CGMR"}

_BASIC = re.compile(r"&[A-Za-z]\d*|[Ss]\d+(?:=\d*|\?)?|[A-Za-z]\d*")
EXTENDED = re.compile(r"([+^$#%*][A-Za-z][A-Za-z0-9]*)(=\?|=|\?)?(.*)$", re.S)
EOL = re.compile(rb"[\r\n]")


class Fail(Exception):
    """Ends a command line with an error, or with another final result code
    (``kind="final"``, e.g. ``NO CARRIER``)."""

    def __init__(self, kind: str, code: int | str = 0):
        super().__init__(kind, code)
        self.kind = kind
        self.code = code


def cme(code: int) -> Fail:
    return Fail("cme", code)


def cms(code: int) -> Fail:
    return Fail("cms", code)


def final_result(fail: Fail, cmee: int) -> str:
    """The final result code a failure ends its line with under ``AT+CMEE=<cmee>``."""
    if fail.kind == "final":
        return str(fail.code)
    if fail.kind == "plain" or cmee == 0:
        return "ERROR"
    if fail.kind == "cms":
        return f"+CMS ERROR: {fail.code}"
    if cmee == 2:
        return f"+CME ERROR: {CME_TEXT.get(int(fail.code), fail.code)}"
    return f"+CME ERROR: {fail.code}"


def parse_args(text: str) -> list[str]:
    """Split AT parameters on commas outside quotes; quotes are removed and
    unquoted values stripped."""
    if not text.strip():
        return []
    out: list[str] = []
    cur: list[str] = []
    quoted = in_quotes = False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
            quoted = True
        elif ch == "," and not in_quotes:
            value = "".join(cur)
            out.append(value if quoted else value.strip())
            cur, quoted = [], False
        else:
            cur.append(ch)
    value = "".join(cur)
    out.append(value if quoted else value.strip())
    return out


def parse_int(value: str, allowed: tuple[int, ...] | range | None = None) -> int:
    """An integer parameter; ``+CME ERROR: 50`` if it is not one or not allowed."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise cme(50) from None
    if allowed is not None and number not in allowed:
        raise cme(50)
    return number


def split_command_line(body: str) -> list[str]:
    """The commands of one line after its "AT": basic ones (``E0``, ``&F``,
    ``S0=1``), extended ones up to ``;`` (quotes respected), and a dial
    string, which takes the rest of the line."""
    tokens: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in " ;":
            i += 1
        elif ch in EXTENDED_PREFIXES:
            j, in_quotes = i, False
            while j < len(body) and (in_quotes or body[j] != ";"):
                in_quotes ^= body[j] == '"'
                j += 1
            tokens.append(body[i:j])
            i = j + 1
        elif ch in "Dd":
            tokens.append(body[i:])
            break
        else:
            match = _BASIC.match(body, i)
            if match is None:
                raise Fail("plain")
            tokens.append(match.group(0))
            i = match.end()
    return tokens
