"""Listening to voicemail from a phone, as a pure state machine.

A mailbox owner dials the voicemail code, enters the PIN followed by #,
hears how many messages there are and then each one, newest first. Keys
after a message (Asterisk's): 5 repeat, 6 next, 7 delete. Three wrong PINs
end the call. Time is never read here; the adapter plays prompts and
messages, reports when they finish and feeds the digits in.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MAX_PIN_TRIES = 3
MAX_COUNT_PROMPT = 9


@dataclass(frozen=True)
class PlayPrompt:
    name: str


@dataclass(frozen=True)
class PlayMessage:
    message_id: str


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class DeleteMessage:
    message_id: str


@dataclass(frozen=True)
class Finish:
    reason: str


class ListenSession:
    """One owner listening to one mailbox.

    :param message_ids: newest first.
    :param check_pin: returns True for the mailbox's PIN.
    """

    def __init__(self, message_ids: list[str], check_pin: Callable[[str], bool]):
        self.messages = list(message_ids)
        self.check_pin = check_pin
        self.state = "new"
        self.pin = ""
        self.tries = 0
        self.index = 0
        self.deleted: list[str] = []

    def start(self) -> list:
        self.state = "pin"
        return [PlayPrompt("vm-enter-pin")]

    def prompt_done(self) -> list:
        if self.state == "count":
            return self._play_current()
        if self.state == "message":
            self.state = "options"
            return [PlayPrompt("vm-options")]
        if self.state == "bye":
            self.state = "done"
            return [Finish("no more messages")]
        return []

    def digit(self, digit: str) -> list:
        if self.state == "pin":
            return self._pin_digit(digit)
        if self.state in ("message", "options"):
            if digit == "5":
                return [StopPlayback()] + self._play_current()
            if digit == "6":
                self.index += 1
                return [StopPlayback()] + self._play_current()
            if digit == "7":
                gone = self.messages.pop(self.index)
                self.deleted.append(gone)
                return [StopPlayback(), DeleteMessage(gone), *self._play_current(prefix=PlayPrompt("vm-deleted"))]
        return []

    def _pin_digit(self, digit: str) -> list:
        if digit != "#":
            if digit.isdigit() and len(self.pin) < 16:
                self.pin += digit
            return []
        entered, self.pin = self.pin, ""
        if self.check_pin(entered):
            self.state = "count"
            n = len(self.messages)
            return [StopPlayback(), PlayPrompt(f"vm-count-{min(n, MAX_COUNT_PROMPT)}")]
        self.tries += 1
        if self.tries >= MAX_PIN_TRIES:
            self.state = "done"
            return [StopPlayback(), Finish("wrong pin")]
        return [StopPlayback(), PlayPrompt("vm-wrong-pin"), PlayPrompt("vm-enter-pin")]

    def _play_current(self, prefix: PlayPrompt | None = None) -> list:
        head = [prefix] if prefix else []
        if self.index >= len(self.messages):
            self.state = "bye"
            return head + [PlayPrompt("vm-no-more")]
        self.state = "message"
        return head + [PlayMessage(self.messages[self.index])]
