"""Outbound routes: which extensions may call which numbers, through which lines.

Patterns use Asterisk's dialplan notation, which FreePBX and Yeastar
owners already know: a leading ``_`` makes a pattern, where ``X`` is any
digit, ``Z`` 1-9, ``N`` 2-9, ``[13-5]`` a set, ``.`` one or more of
anything and ``!`` zero or more; without ``_`` the number must match
exactly. The first route whose pattern matches and that admits the caller
wins; its lines are tried in order (a failover when the first is down or
busy). ``strip`` removes leading digits (an outside-line prefix like 9)
and ``prepend`` adds some (a country or carrier prefix).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DIALABLE = re.compile(r"\+?[0-9*#]{1,32}")


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern:
    """An Asterisk-style pattern as a regex; raises ValueError when malformed."""
    if not pattern.startswith("_"):
        if not DIALABLE.fullmatch(pattern):
            raise ValueError(f"{pattern!r} is neither a number nor a pattern starting with _")
        return re.compile(re.escape(pattern))
    out, i, body = [], 0, pattern[1:]
    if not body:
        raise ValueError("an empty pattern matches nothing")
    while i < len(body):
        ch = body[i].upper()
        if ch == "X":
            out.append("[0-9]")
        elif ch == "Z":
            out.append("[1-9]")
        elif ch == "N":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.find("]", i)
            if end < 0 or not re.fullmatch(r"[0-9](-[0-9])?([0-9](-[0-9])?)*", body[i + 1:end]):
                raise ValueError(f"bad set in pattern {pattern!r}")
            out.append("[" + body[i + 1:end] + "]")
            i = end
        elif ch in "0123456789*#+":
            out.append(re.escape(ch))
        else:
            raise ValueError(f"{body[i]!r} has no meaning in pattern {pattern!r}")
        i += 1
    return re.compile("".join(out))


def matches(pattern: str, number: str) -> bool:
    return compile_pattern(pattern).fullmatch(number) is not None


@dataclass(frozen=True)
class OutboundRoute:
    id: str
    patterns: tuple[str, ...]
    lines: tuple[str, ...]
    extensions: tuple[str, ...] = ("*",)    # "*": every extension
    strip: int = 0
    prepend: str = ""

    def admits(self, extension: str) -> bool:
        return "*" in self.extensions or extension in self.extensions

    def number_for(self, dialed: str) -> str:
        return self.prepend + dialed[self.strip:]


@dataclass(frozen=True)
class OutboundPlan:
    route: str
    number: str               # what the line dials
    lines: tuple[str, ...]    # in order of preference


def plan(routes: list[OutboundRoute], extension: str, dialed: str) -> OutboundPlan | None:
    """The route an extension's dialled number takes, or None (not allowed / no route)."""
    for route in routes:
        if any(matches(p, dialed) for p in route.patterns) and route.admits(extension):
            number = route.number_for(dialed)
            if DIALABLE.fullmatch(number):
                return OutboundPlan(route.id, number, route.lines)
    return None
