"""IVR menus: what a caller's key presses mean, as a pure state machine.

This module owns the rules of one pass through an IVR menu (Asterisk/FreePBX
style): which prompt plays, how digits collect into an extension number, when
a silence or a wrong key counts as a failed attempt, and where the caller goes
in the end. It must not touch pjsua2, serial ports, hardware, files or the
clock: time arrives as each event's ``rtime`` and every effect leaves as an
action value. The adapter plays prompts, feeds digits and ticks in, and carries
the actions out; a test does the same with plain numbers and never sleeps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from firmware.errors import ConfigError
from firmware.telephony.targets import Target, TargetKind

KEYS = frozenset("0123456789*#")
OPERATOR_KEY = "0"   # product rule: "0" always reaches a person
END_KEY = "#"        # ends digit collection early, as in Asterisk's Read()


@dataclass(frozen=True, kw_only=True)
class Menu:
    """One IVR menu as the owner configured it.

    :param choices: single-key (``0``-``9``, ``*``, ``#``) options.
    :param timeout_s: silence allowed after the menu prompt has finished.
    :param inter_digit_s: pause allowed between the digits of an extension.
    :param max_attempts: failed entries (wrong key or silence, combined)
        before the caller is sent to ``failover`` (or ``operator``).
    :param operator: where "a person" is; key ``0`` goes there unless ``0``
        is itself a configured choice.
    :param extensions: numbers a caller may dial directly from the menu.
    """

    id: str
    prompt: str
    choices: dict[str, Target]
    operator: Target
    timeout_s: float = 5.0
    inter_digit_s: float = 2.0
    max_attempts: int = 3
    invalid_prompt: str = "invalid-entry"
    timeout_prompt: str = "no-entry"
    extensions: frozenset[str] = frozenset()
    failover: Target | None = None

    def __post_init__(self):
        # Config may hand in a list or set; prefix checks want a frozenset.
        object.__setattr__(self, "extensions", frozenset(self.extensions))


# -- events (in) -------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    rtime: float = field(kw_only=True)   # seconds, from the adapter's clock


@dataclass(frozen=True)
class MenuStarted(Event):
    pass


@dataclass(frozen=True)
class PromptFinished(Event):
    """One queued prompt played to its end (not sent for a stopped prompt)."""


@dataclass(frozen=True)
class DigitPressed(Event):
    digit: str


@dataclass(frozen=True)
class Tick(Event):
    """Sent periodically; deadlines are only acted on at a tick."""


# -- actions (out) -----------------------------------------------------------

@dataclass(frozen=True)
class PlayPrompt:
    name: str
    interruptible: bool = True


@dataclass(frozen=True)
class StopPrompt:
    """Stop the prompt playing now and drop any still queued after it."""


@dataclass(frozen=True)
class GoTo:
    target: Target
    reason: str   # choice | extension | operator | timeout-exhausted | invalid-exhausted
    digits: str


class MenuSession:
    """One caller in one menu, from :class:`MenuStarted` to a :class:`GoTo`.

    :meth:`handle` takes an event and returns the actions to carry out, in
    order. It never raises on odd input: unknown events give ``[]``, bad
    digits count as an invalid entry, and after the final ``GoTo`` every event
    gives ``[]``. The adapter sends one :class:`PromptFinished` per prompt it
    plays to the end; the silence timeout starts when the last queued prompt
    (always the menu prompt) has finished.
    """

    def __init__(self, menu: Menu):
        self.menu = menu
        self.result: GoTo | None = None
        self._choices: list[str] = []
        self._attempts = 0
        self._started = False
        self._playing = 0                  # queued prompts not yet finished
        self._digits = ""                  # collected toward an extension
        self._deadline: float | None = None
        # "0" acts as a configured choice pointing at the operator.
        self._keys = {OPERATOR_KEY: (menu.operator, "operator")}
        self._keys.update({k: (t, "choice") for k, t in menu.choices.items()})

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def choices(self) -> list[str]:
        """Every entry the caller finished, valid or not, oldest first."""
        return list(self._choices)

    @property
    def attempts(self) -> int:
        """Failed entries so far (wrong keys and silences together)."""
        return self._attempts

    def handle(self, event: object) -> list:
        handler = self._HANDLERS.get(type(event))
        if handler is None or self.done or (not self._started and not isinstance(event, MenuStarted)):
            return []
        return handler(self, event)

    # -- handlers, keyed by event type ---------------------------------------

    def _on_started(self, event: MenuStarted) -> list:
        if self._started:
            return []
        self._started = True
        return self._play(self.menu.prompt)

    def _on_prompt_finished(self, event: PromptFinished) -> list:
        if self._playing:
            self._playing -= 1
            if not self._playing and not self._digits:
                self._deadline = event.rtime + self.menu.timeout_s
        return []

    def _on_tick(self, event: Tick) -> list:
        if self._deadline is None or event.rtime < self._deadline:
            return []
        if not self._digits:
            return self._fail("timeout", "")
        # The caller stopped dialling: take what the digits mean, if anything.
        return self._resolve(self._digits) or self._fail("timeout", self._digits)

    def _on_digit(self, event: DigitPressed) -> list:
        actions: list = [StopPrompt()] if self._playing else []
        self._playing = 0
        self._deadline = None
        digit = event.digit
        if not isinstance(digit, str) or len(digit) != 1 or digit not in KEYS:
            return actions + self._fail("invalid", self._digits + "?")
        if digit == END_KEY and (self._digits or END_KEY not in self._keys):
            return actions + (self._resolve(self._digits) or self._fail("invalid", self._digits or END_KEY))
        entry = self._digits + digit
        if any(n.startswith(entry) and n != entry for n in self.menu.extensions):
            # A longer extension is still possible: wait for the next digit.
            self._digits = entry
            self._deadline = event.rtime + self.menu.inter_digit_s
            return actions
        return actions + (self._resolve(entry) or self._fail("invalid", entry))

    _HANDLERS = {
        MenuStarted: _on_started,
        PromptFinished: _on_prompt_finished,
        DigitPressed: _on_digit,
        Tick: _on_tick,
    }

    # -- helpers -------------------------------------------------------------

    def _resolve(self, entry: str) -> list:
        """GoTo for a finished entry, or [] if it means nothing here."""
        if entry in self._keys:
            target, reason = self._keys[entry]   # a configured key beats an extension
        elif entry in self.menu.extensions:
            target, reason = Target(TargetKind.EXTENSION, entry), "extension"
        else:
            return []
        self._choices.append(entry)
        return self._finish(target, reason, entry)

    def _fail(self, kind: str, entry: str) -> list:
        """Count a wrong key or a silence; replay the menu or give up."""
        self._attempts += 1
        if entry:
            self._choices.append(entry)
        self._digits = ""
        self._deadline = None
        if self._attempts >= self.menu.max_attempts:
            # Never hang up on a caller who is trying: hand them to a person.
            return self._finish(self.menu.failover or self.menu.operator, f"{kind}-exhausted", entry)
        sorry = self.menu.invalid_prompt if kind == "invalid" else self.menu.timeout_prompt
        return self._play(sorry, self.menu.prompt)

    def _play(self, *names: str) -> list:
        self._playing += len(names)
        return [PlayPrompt(name) for name in names]

    def _finish(self, target: Target, reason: str, digits: str) -> list:
        self.result = GoTo(target, reason, digits)
        self._deadline = None
        return [self.result]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_menu(menu: Menu, known_targets=None) -> None:
    """Refuse a menu that could not work, naming the offending field.

    :param known_targets: if given, the destinations that exist; every choice,
        the operator, the failover and each direct-dial extension must be one
        of them (hang-up always exists).
    :raises ConfigError: for the first problem found.
    """
    base = f"menus.{menu.id}"
    for name in ("prompt", "invalid_prompt", "timeout_prompt"):
        if not isinstance(getattr(menu, name), str) or not getattr(menu, name).strip():
            raise ConfigError(f"{base}.{name}", "needs a prompt name")
    for name in ("timeout_s", "inter_digit_s"):
        value = getattr(menu, name)
        if not _number(value) or value <= 0:
            raise ConfigError(f"{base}.{name}", f"must be a positive number of seconds, not {value!r}")
    if not (isinstance(menu.max_attempts, int) and _number(menu.max_attempts) and 1 <= menu.max_attempts <= 9):
        raise ConfigError(f"{base}.max_attempts", f"must be 1 to 9, not {menu.max_attempts!r}")
    targets = {f"{base}.operator": menu.operator}
    if menu.failover is not None:
        targets[f"{base}.failover"] = menu.failover
    for key, target in menu.choices.items():
        if not isinstance(key, str) or len(key) != 1 or key not in KEYS:
            raise ConfigError(f"{base}.choices.{key}", "a choice key is one of 0-9, * or #")
        targets[f"{base}.choices.{key}"] = target
    for number in sorted(menu.extensions, key=str):
        # "#" ends collection, so it can never be part of a number.
        if not isinstance(number, str) or not number or set(number) - (KEYS - {END_KEY}):
            raise ConfigError(f"{base}.extensions.{number}", "an extension is digits 0-9 and *")
        targets[f"{base}.extensions.{number}"] = Target(TargetKind.EXTENSION, number)
    for name, target in targets.items():
        if not isinstance(target, Target):
            raise ConfigError(name, f"{target!r} is not a destination")
        if known_targets is not None and target.kind is not TargetKind.HANGUP and target not in known_targets:
            raise ConfigError(name, f"destination {target} does not exist")
