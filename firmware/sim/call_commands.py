"""The emulated modem's voice calls: call states and the call commands.

Owns: the one call a module carries (:class:`Call`: ringing, dialling,
alerting, active), its announcements in the vendor's words (``RING`` or
``+CRING: VOICE``, ``+CLIP``, ``+CLCC``, ``VOICE CALL: BEGIN/END``,
``NO CARRIER``), DTMF reports, and the handlers of ``ATD<n>;``, ``ATA``,
``ATH``, ``AT+CHUP``, ``+CLIP``, ``+CLCC``, ``+VTS``, ``+DDET`` and
``+CPCMREG``. The audio itself is :mod:`firmware.sim.pcm`'s; here only the
switch that turns it on.

A mixin of :class:`firmware.sim.modem_emulator.ModemEmulator`: it reads and
writes the emulator's ``_call``, ``_settings``, ``_ddet``, ``_s0``,
``dialled``, ``sent_dtmf`` and ``pcm_enabled``, and runs under its
``_lock`` (server thread, timers, or a far-end call).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from firmware.sim.at_syntax import Fail, cme, parse_args, parse_int

DTMF_KEYS = "0123456789*#ABCD"
CLCC_STAT = {"active": 0, "dialling": 2, "alerting": 3, "ringing": 4}


@dataclass
class Call:
    number: str
    incoming: bool
    state: str                          # ringing, dialling, alerting, active
    rings: int = 0
    began: float | None = None          # monotonic time it became active

    @property
    def toa(self) -> int:
        """Type of address: 145 international ("+..."), 129 otherwise."""
        return 145 if self.number.startswith("+") else 129


def hhmmss(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}{s // 60 % 60:02d}{s % 60:02d}"


class CallCommands:
    """Call state and call handlers, mixed into the emulator."""

    # -- call state ----------------------------------------------------------------------

    def _clcc_line(self, call: Call, stat: int) -> str:
        return f'+CLCC: 1,{1 if call.incoming else 0},{stat},0,0,"{call.number}",{call.toa}'

    def _clcc_urc(self, call: Call, stat: int | None = None) -> None:
        if self._settings["+CLCC"]:
            self._urc(self._clcc_line(call, CLCC_STAT[call.state] if stat is None else stat))

    def _ring(self, call: Call) -> None:
        if self._call is not call or call.state != "ringing":
            return
        call.rings += 1
        self._urc("+CRING: VOICE" if self._settings["+CRC"] else "RING")
        if self._settings["+CLIP"]:
            self._urc(f'+CLIP: "{call.number}",{call.toa}{self.dialect.clip_tail}')
        if self._s0 and call.rings >= self._s0:     # ATS0=<n>: auto-answer
            for line in self._begin(call):
                self._urc(line)
            return
        self._schedule(self.ring_interval, lambda: self._ring(call))

    def _alert(self, call: Call) -> None:
        if self._call is call and call.state == "dialling":
            call.state = "alerting"
            self._clcc_urc(call)

    def _begin(self, call: Call) -> list[str]:
        """The call is connected; returns the vendor's lines to announce it."""
        call.state = "active"
        call.began = time.monotonic()
        self._clcc_urc(call)
        self._sync_pcm()
        return ["VOICE CALL: BEGIN"] if self.dialect.voice_call_urcs else []

    def _end_call(self) -> list[str]:
        """The call is gone; returns the vendor's lines to announce it."""
        call, self._call = self._call, None
        self.pcm_enabled = False                    # the audio stream stops with it
        if call is None:
            return []
        self._forget_caller_audio()
        self._clcc_urc(call, 6)
        if call.began is not None and self.dialect.voice_call_urcs:
            return [f"VOICE CALL: END: {hhmmss(time.monotonic() - call.began)}"]
        return []

    def _drop_call(self) -> None:
        for line in self._end_call():
            self._urc(line)
        self._urc("NO CARRIER")

    def _dtmf_line(self, key: str, duration_ms: int) -> str | None:
        switch = self.dialect.dtmf_switch
        if switch == "+DDET":
            if not self._ddet[0]:
                return None
            line = self.dialect.dtmf_urc.format(key=key, code=ord(key))
            return f"{line},{duration_ms}" if self._ddet[2] == 1 else line
        if switch is not None and not self._settings[switch]:
            return None
        return self.dialect.dtmf_urc.format(key=key, code=ord(key))

    def _dial(self, rest: str) -> list[str]:
        dial = rest.strip()
        if not dial.endswith(";"):
            raise Fail("plain")                     # data calls are not emulated
        number = dial[:-1].strip()
        if not re.fullmatch(r"\+?[0-9*#]+", number):
            raise Fail("plain")
        self._need_sim()
        if not self._registered():
            raise cme(30)
        if self._call is not None:
            raise cme(3)
        call = self._call = Call(number, incoming=False, state="dialling")
        self.dialled.append(number)
        self._after.append(lambda: self._clcc_urc(call))
        self._schedule(self.alert_delay, lambda: self._alert(call))
        return []

    # -- basic commands ------------------------------------------------------------------

    def _basic_a(self, param: str) -> list[str]:
        call = self._call
        if call is None or not call.incoming or call.state != "ringing":
            raise Fail("final", "NO CARRIER")
        self._after.extend(self._begin(call))
        return []

    def _basic_h(self, param: str) -> list[str]:
        return self._end_call()

    # -- extended commands ---------------------------------------------------------------

    def _x_clip(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CLIP: {self._settings['+CLIP']},1"]
        return self._setting("+CLIP", op, rest)

    def _x_chup(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else self._end_call()

    def _x_clcc(self, op: str, rest: str) -> list[str]:
        if op != "exec":
            return self._setting("+CLCC", op, rest)
        call = self._call
        return [self._clcc_line(call, CLCC_STAT[call.state])] if call else []

    def _x_vts(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return [f"+VTS: ({','.join(DTMF_KEYS)})"]
        if op != "set":
            raise cme(50)
        text = rest.strip()
        if text.startswith('"'):
            inner = text[1:].split('"', 1)[0]
            keys = [k.strip() for k in inner.split(",")] if "," in inner else list(inner)
        else:
            keys = list(text.split(",", 1)[0].strip())   # <dtmf>[,<duration>]
        if not keys or any(len(k) != 1 or k.upper() not in DTMF_KEYS for k in keys):
            raise cme(50)
        if self._call is None or self._call.state != "active":
            raise cme(3)
        self.sent_dtmf.extend(k.upper() for k in keys)
        return []

    def _x_ddet(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+DDET: " + ",".join(map(str, self._ddet))]
        if op == "test":
            return ["+DDET: (0,1),(0-10000),(0,1),(0,1)"]
        args = parse_args(rest)
        if op != "set" or not args:
            raise cme(50)
        limits = ((0, 1), range(10001), (0, 1), (0, 1))
        for i, value in enumerate(args[:4]):
            self._ddet[i] = parse_int(value, limits[i])
        return []

    def _x_cpcmreg(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CPCMREG: {int(self.pcm_enabled)}"]
        if op == "test":
            return ["+CPCMREG: (0,1)"]
        args = parse_args(rest)
        if op != "set" or not args:
            raise cme(50)
        on = parse_int(args[0], (0, 1)) == 1
        if on and (self._call is None or self._call.state != "active"):
            # The PCM port carries a connected voice call: before VOICE CALL:
            # BEGIN (or after the end) the module refuses to switch it on.
            raise cme(3)
        self.pcm_enabled = on
        return []
