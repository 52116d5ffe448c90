"""The emulated modem's device commands: settings, identity, SIM, network, power.

Owns: the V.25ter basic commands (``ATE``, ``ATV``, ``ATQ``, ``ATZ``,
``AT&F``, ``ATI``, ``ATS0``), the stored integer settings (:data:`SETTINGS`:
``+CMEE``, ``+CLIP``, ``+CRC``, ``+CMGF``...), identity (``+CGMI``,
``+CGMM``, ``+CGMR``, ``+CGSN``, ``+CIMI``), the SIM lock (``+CPIN``,
``+SPIC``, ``+QPINC``: PIN, three tries, PUK, blocked), registration
(``+CSQ``, ``+CREG``, ``+CGREG``, ``+CEREG``, ``+COPS``) and power
(``+CFUN``, ``+CRESET``).

A mixin of :class:`firmware.sim.modem_emulator.ModemEmulator`: it reads and
writes the emulator's ``_settings``, ``_echo``, ``_s0``, ``_cfun``,
``_sim_state``, ``_pin_left``, ``_puk_left``, ``_mode`` and ``pin``, and
runs under its ``_lock``. Vendor differences come from ``self.dialect``.
"""
from __future__ import annotations

import re

from firmware.sim.at_syntax import Fail, cme, cms, parse_args, parse_int

LAC, CI = "1A2B", "0C3D4E5F"           # location shown by +CREG/+CEREG n=2

# Integer settings that are only stored and read back: name -> (default, allowed).
SETTINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "+CMEE": (0, (0, 1, 2)),
    "+CLIP": (0, (0, 1)),
    "+CRC": (0, (0, 1)),
    "+CMGF": (0, (0, 1)),
    "+CSDH": (0, (0, 1)),
    "+COLP": (0, (0, 1)),
    "+CLCC": (0, (0, 1)),              # AT+CLCC=1: +CLCC URC on every change
    "+CREG": (0, (0, 1, 2)),
    "+CGREG": (0, (0, 1, 2)),
    "+CEREG": (0, (0, 1, 2)),
    "+CMUT": (0, (0, 1)),
    "+CLVL": (3, tuple(range(101))),
    "+QTONEDET": (0, (0, 1)),
}


class DeviceCommands:
    """Settings, identity, SIM and network handlers, mixed into the emulator."""

    # -- SIM and registration state --------------------------------------------------------

    def _registered(self) -> bool:
        return (self._cfun == 1 and self._sim_state == "READY"
                and self._mode not in ("sim-missing", "no-network"))

    def _reachable(self) -> bool:
        return self._registered() and not self._booting and not self._closed

    def _reg_stat(self) -> int:
        if self._registered():
            return 1
        if self._mode == "no-network" and self._cfun == 1 and self._sim_state == "READY":
            return 2
        return 0

    def _report_registration(self, was_registered: bool) -> None:
        if self._registered() == was_registered:
            return
        stat = self._reg_stat()
        names = ("+CREG", "+CGREG", "+CEREG") if self.dialect.lte else ("+CREG", "+CGREG")
        for name in names:
            n = self._settings[name]
            if n == 1 or (n == 2 and stat not in (1, 5)):
                self._urc(f"{name}: {stat}")
            elif n == 2:
                self._urc(f'{name}: {stat},"{LAC}","{CI}"' + (",7" if name == "+CEREG" else ""))

    def _need_sim(self, *, sms: bool = False) -> None:
        """Refuse a command that needs a usable SIM (SMS commands answer with
        +CMS codes from TS 27.005, the others with +CME codes)."""
        if self._mode == "sim-missing":
            raise cms(310) if sms else cme(10)
        if self._sim_state == "SIM PIN":
            raise cms(311) if sms else cme(11)
        if self._sim_state == "SIM PUK":
            raise cms(316) if sms else cme(12)
        if self._sim_state == "BLOCKED":
            raise cms(310) if sms else cme(13)

    def _unlock(self) -> None:
        was_registered = self._registered()
        self._sim_state = "READY"
        self._pin_left, self._puk_left = 3, 10
        self._after.extend(["+CPIN: READY", *self.dialect.ready_urcs])
        self._after.append(lambda: self._report_registration(was_registered))

    # -- basic commands ------------------------------------------------------------------

    def _basic_e(self, param: str) -> list[str]:
        self._echo = parse_int(param or "0", (0, 1)) == 1
        return []

    def _basic_v(self, param: str) -> list[str]:
        if param not in ("", "1"):
            raise Fail("plain")                     # numeric result codes not emulated
        return []

    def _basic_q(self, param: str) -> list[str]:
        if param not in ("", "0"):
            raise Fail("plain")                     # quiet mode not emulated
        return []

    def _basic_z(self, param: str) -> list[str]:
        self._reset_settings()
        return []

    def _basic_ampersand(self, command: str) -> list[str]:
        if command == "F" or command == "F0":
            self._reset_settings()
        return []                                   # &W, &D, &C, &K...: accepted

    def _basic_i(self, param: str) -> list[str]:
        return [line.format(imei=self.imei) for line in self.dialect.ati]

    def _basic_s(self, param: str) -> list[str]:
        match = re.fullmatch(r"(\d+)(?:=(\d*)|(\?))?", param)
        if match is None:
            raise Fail("plain")
        register = int(match.group(1))
        if match.group(3):
            return [f"{self._s0 if register == 0 else 0:03d}"]
        if register == 0 and match.group(2) is not None:
            self._s0 = parse_int(match.group(2) or "0", range(256))
        return []

    def _basic_x(self, param: str) -> list[str]:
        return []

    _basic_l = _basic_m = _basic_x

    # -- extended commands: settings, identity, SIM, network, power -------------------------

    def _setting(self, name: str, op: str, rest: str) -> list[str]:
        default, allowed = SETTINGS[name]
        if op == "read":
            return [f"{name}: {self._settings[name]}"]
        if op == "test":
            span = ",".join(map(str, allowed)) if len(allowed) <= 3 else f"{allowed[0]}-{allowed[-1]}"
            return [f"{name}: ({span})"]
        if op == "set":
            args = parse_args(rest)
            self._settings[name] = parse_int(args[0] if args else "", allowed)
        else:
            self._settings[name] = default
        return []

    def _x_cgmi(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.dialect.manufacturer]

    def _x_cgmm(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.dialect.model]

    def _x_cgmr(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        return [f"+CGMR: {self.dialect.revision}" if self.vendor == "sim7600" else self.dialect.revision]

    def _x_cgsn(self, op: str, rest: str) -> list[str]:
        return [] if op == "test" else [self.imei]

    def _x_cimi(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_sim()
        return [self.imsi]

    def _x_cpin(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        if self._mode == "sim-missing":
            raise cme(10)
        if self._sim_state == "BLOCKED":
            raise cme(13)
        if op == "read":
            return [f"+CPIN: {self._sim_state}"]
        args = parse_args(rest)
        if op != "set" or not args or not args[0]:
            raise cme(50)
        if self._sim_state == "READY":
            raise cme(3)
        if self._sim_state == "SIM PIN":
            if args[0] == self.pin:
                self._unlock()
                return []
            self._pin_left -= 1
            if self._pin_left <= 0:
                self._sim_state = "SIM PUK"
            raise cme(16)
        # SIM PUK: AT+CPIN="<puk>","<new pin>"
        if len(args) < 2 or not re.fullmatch(r"\d{4,8}", args[1]):
            raise cme(12)
        if args[0] == self.puk:
            self.pin = args[1]
            self._unlock()
            return []
        self._puk_left -= 1
        if self._puk_left <= 0:
            self._sim_state = "BLOCKED"
        raise cme(16)

    def _x_spic(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        if self._mode == "sim-missing":
            raise cme(10)
        return [f"+SPIC: {self._pin_left},{self._puk_left},3,10"]

    def _x_qpinc(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ['+QPINC: ("SC","P2")']
        if self._mode == "sim-missing":
            raise cme(10)
        lines = {"SC": f'+QPINC: "SC",{self._pin_left},{self._puk_left}', "P2": '+QPINC: "P2",3,10'}
        if op == "read":
            return list(lines.values())
        args = parse_args(rest)
        if op != "set" or not args or args[0].upper() not in lines:
            raise cme(50)
        return [lines[args[0].upper()]]

    def _x_csq(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ["+CSQ: (0-31,99),(0-7,99)"]
        if op != "exec":
            raise cme(4)
        if self._mode == "no-network" or self._cfun != 1:
            return ["+CSQ: 99,99"]
        return [f"+CSQ: {self.signal},99"]

    def _registration(self, name: str, op: str, rest: str) -> list[str]:
        if op != "read":
            return self._setting(name, op, rest)
        n, stat = self._settings[name], self._reg_stat()
        if n == 2 and stat in (1, 5):
            tail = ",7" if name == "+CEREG" else ""
            return [f'{name}: 2,{stat},"{LAC}","{CI}"{tail}']
        return [f"{name}: {n},{stat}"]

    def _x_creg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CREG", op, rest)

    def _x_cgreg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CGREG", op, rest)

    def _x_cereg(self, op: str, rest: str) -> list[str]:
        return self._registration("+CEREG", op, rest)

    def _x_cops(self, op: str, rest: str) -> list[str]:
        act = 7 if self.dialect.lte else 0
        if op == "test":
            return [f'+COPS: (2,"{self.operator}","CMCC","46000",{act}),,(0-4),(0-2)']
        if op == "read":
            if self._registered():
                return [f'+COPS: 0,0,"{self.operator}",{act}']
            return ["+COPS: 0"]
        return []

    def _x_cfun(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f"+CFUN: {self._cfun}"]
        if op == "test":
            return ["+CFUN: (0,1,4),(0,1)"]
        args = parse_args(rest)
        if op != "set" or not args:
            raise cme(50)
        level = parse_int(args[0], (0, 1, 4))
        reset = len(args) > 1 and parse_int(args[1], (0, 1)) == 1
        was_registered = self._registered()
        self._cfun = level
        if reset:
            self._after.append(self._begin_reboot)
            return []
        if level != 1 and self._call is not None:
            self._after.append(self._drop_call)
        self._after.append(lambda: self._report_registration(was_registered))
        return []

    def _x_creset(self, op: str, rest: str) -> list[str]:
        if op == "exec":
            self._after.append(self._begin_reboot)
        return []
