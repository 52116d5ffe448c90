"""The emulated modem's AT session: reading command lines, answering them.

Owns: how bytes from the driver become command lines (CR, LF or CRLF;
echo with ``ATE1``; the SMS prompt's text handed to the SMS handlers), how
a line is split and each command dispatched to its handler (``_x_<name>``
for extended commands, ``_basic_<letter>`` for basic ones, vendor-only
commands refused on other vendors), and how answers are framed:
information text, the final result code (late in "slow" mode), URCs, and
nothing at all or junk in the "hang" and "garbage" misbehaviours.

A mixin of :class:`firmware.sim.modem_emulator.ModemEmulator`: it reads and
writes the emulator's ``_in``, ``_after``, ``_busy``, ``_echo``,
``commands`` and sends through its ``_server``. Input runs in the server
thread; output from any thread; always under the emulator's ``_lock``.
"""
from __future__ import annotations

import logging
from typing import Callable

from firmware.sim.at_syntax import (ALIASES, EOL, EXTENDED, EXTENDED_PREFIXES, OPS, Fail, cme, final_result,
                                    split_command_line)
from firmware.sim.device_commands import SETTINGS
from firmware.sim.dialects import VENDOR_COMMANDS

log = logging.getLogger(__name__)

# What a "garbage" modem answers to every command: bytes that are not UTF-8,
# an escape sequence, half a RING and an unterminated half line. Never a
# final result code.
JUNK = b"\r\n\xff\xfe\x00\x1b[0m\x81\r\n\xc3\x28\xa0\xa1 RIN\r\n+CS"


class AtSession:
    """Command-line input, dispatch and response framing, mixed into the emulator."""

    # -- output -----------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        if not data or self._mode == "hang" or self._closed:
            return
        self._server.send(data)

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        self._server.schedule(delay, action)

    def _enc(self, text: str) -> bytes:
        return text.encode("latin-1", "replace")

    def _urc(self, line: str) -> None:
        log.debug("%s -> URC %s", self.vendor, line)
        self._emit(b"\r\n" + self._enc(line) + b"\r\n")

    def _respond(self, info: list[str], final: str, after: list[str | Callable[[], None]]) -> None:
        head = b"\r\n" + b"\r\n".join(self._enc(line) for line in info) + b"\r\n" if info else b""
        tail = b"\r\n" + self._enc(final) + b"\r\n"
        log.debug("%s -> %s %s", self.vendor, info, final)
        if self._mode != "slow":
            self._emit(head + tail)
            self._run_after(after)
            return
        self._emit(head)
        self._busy = True

        def late() -> None:
            self._busy = False
            self._emit(tail)
            self._run_after(after)
        self._schedule(self.slow_delay, late)

    def _run_after(self, after: list[str | Callable[[], None]]) -> None:
        for item in after:
            if callable(item):
                item()
            else:
                self._urc(item)

    def _final_for(self, fail: Fail) -> str:
        return final_result(fail, self._settings["+CMEE"])

    # -- input (server thread, under _lock) -----------------------------------------------------

    def _receive(self, data: bytes) -> None:
        if data and not self._booting:
            self._in += data
        if self._booting:
            self._in.clear()

    def _process_input(self) -> None:
        while self._in and not self._busy and not self._booting:
            if self._sms is not None:
                if not self._take_sms_body():
                    return
                continue
            eol = EOL.search(self._in)
            if eol is None:
                if len(self._in) > 4096:           # no line end in sight: drop it
                    self._in.clear()
                return
            raw = bytes(self._in[:eol.start()])
            end = eol.end()
            if self._in[eol.start()] == 0x0D and end < len(self._in) and self._in[end] == 0x0A:
                end += 1
            del self._in[:end]
            self._line(raw)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return
        self.commands.append(text)
        log.debug("%s <- %s", self.vendor, text)
        if self._mode == "hang":
            return
        if self._mode == "garbage":
            self._emit(JUNK)
            return
        if self._echo:
            self._emit(raw + b"\r")
        if text[:2].upper() != "AT":
            return                                  # modules ignore non-commands
        self._execute(text[2:])

    def _execute(self, body: str) -> None:
        info: list[str] = []
        self._after = []
        final = "OK"
        try:
            for token in split_command_line(body):
                info.extend(self._dispatch(token))
                if self._sms is not None:           # AT+CMGS: prompt, text follows
                    if info:
                        self._emit(b"\r\n" + b"\r\n".join(self._enc(x) for x in info) + b"\r\n")
                    self._emit(b"\r\n> ")
                    return
        except Fail as fail:
            final = self._final_for(fail)
        except Exception:
            log.exception("modem emulator failed on AT%s", body)
            final = "ERROR"
        after, self._after = self._after, []
        self._respond(info, final, after)

    def _dispatch(self, token: str) -> list[str]:
        if token[0] in EXTENDED_PREFIXES:
            match = EXTENDED.match(token)
            if match is None:
                raise Fail("plain")
            name, sep, rest = match.group(1).upper(), match.group(2), match.group(3)
            if (sep is None or sep == "?") and rest.strip():
                raise cme(4)
            op = OPS[sep]
            name = ALIASES.get(name, name)
            if name in VENDOR_COMMANDS and name not in self.dialect.commands:
                raise cme(4)
            handler = getattr(self, "_x_" + name[1:].lower(), None)
            if handler is not None:
                return handler(op, rest)
            if name in SETTINGS:
                return self._setting(name, op, rest)
            raise cme(4)
        letter = token[0].upper()
        if letter == "D":
            return self._dial(token[1:])
        if letter == "&":
            return self._basic_ampersand(token[1:].upper())
        handler = getattr(self, "_basic_" + letter.lower(), None)
        if handler is None:
            raise cme(4)
        return handler(token[1:])
