"""The emulated modem's SMS commands, in PDU and text mode (3GPP TS 27.005).

Owns: the handlers of ``AT+CSCS``, ``+CNMI``, ``+CSMP``, ``+CPMS``,
``+CMGS`` (with its ``> `` prompt and the typed body up to Ctrl-Z or Esc),
``+CMGR``, ``+CMGL``, ``+CMGD``, the arrival of a message from the far end
(a long text in concatenated parts, each announced with its own
``+CMTI``, as a network delivers it) and what the network makes of the
messages sent (``sent_sms``: a long text once all its parts went out).
Storage and text-mode encodings live in :mod:`firmware.sim.sms`, PDUs in
:mod:`firmware.sim.pdu`.

PDU mode (``AT+CMGF=0``, the power-on default): ``+CMGR``/``+CMGL`` give
``<stat>,,<length>`` and the stored PDU, ``+CMGL`` takes a numeric
``<stat>`` (4: all), ``AT+CMGS=<length>`` takes the PDU in hex after the
prompt and refuses one whose length or fields do not add up
(``+CMS ERROR: 304``). Text mode (``AT+CMGF=1``) shows each stored part as
its own message, its header invisible, as real modules do.

A mixin of :class:`firmware.sim.modem_emulator.ModemEmulator`: it reads and
writes the emulator's state (``_store``, ``_sms``, ``_charset``, ``_cnmi``,
``_csmp``, ``_mr``, ``_in``, ``_settings``, ``_next_ref``, ``_sent_parts``,
``sent_sms``, ``sent_pdus``) and runs, like every handler, in the server
thread or a far-end call, always under the emulator's ``_lock``.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

from firmware.sim import pdu as pdulib
from firmware.sim import sms as smslib
from firmware.sim.at_syntax import Fail, cme, cms, parse_args, parse_int
from firmware.sim.sms import CMGL_STATS, SMS_CAPACITY, OutgoingSms, StoredSms

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B


class SmsCommands:
    """SMS handlers and far-end delivery, mixed into the emulator."""

    def _deliver_sms(self, sender: str, text: str, when: datetime | None, ref: int | None) -> int:
        """See :meth:`ModemEmulator.deliver_sms`; under the lock."""
        if not self._reachable():
            log.warning("SMS from %s lost: module not registered", sender)
            return -1
        if ref is None:
            ref, self._next_ref = self._next_ref, (self._next_ref + 1) % 256
        tpdus = pdulib.deliver_tpdus(sender, text, when or smslib.now(self.tz_quarters), ref)
        indexes = [self._deliver_tpdu(tpdu) for tpdu in tpdus]
        return -1 if -1 in indexes else indexes[0]

    def _deliver_tpdu(self, tpdu: bytes) -> int:
        """One SMS-DELIVER arrives: stored with ``+CMTI`` or shown with ``+CMT``."""
        part = pdulib.read_deliver(tpdu)
        mode, mt = self._cnmi[0], self._cnmi[1]
        if mode != 0 and mt == 2:
            if self._pdu_mode():
                whole = (pdulib.smsc_field(smslib.SERVICE_CENTRE) + tpdu).hex().upper()
                self._urc(f"+CMT: ,{len(tpdu)}\r\n{whole}")
            else:
                self._urc(f'+CMT: "{self._to_te(part.address)}","","{part.scts}"\r\n{self._to_te(part.text)}')
            return 0
        index = self._store.add(StoredSms(part.address, part.text, part.scts, tpdu=tpdu))
        if index is None:
            log.warning("SMS from %s lost: SIM storage full", part.address)
            return -1
        if mode != 0 and mt == 1:
            self._urc(f'+CMTI: "SM",{index}')
        return index

    def _to_te(self, text: str) -> str:
        return smslib.to_te(text, self._charset)

    def _pdu_mode(self) -> bool:
        return self._settings["+CMGF"] == 0

    def _x_cscs(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return [f'+CSCS: "{self._charset}"']
        if op == "test":
            return ['+CSCS: ("IRA","GSM","UCS2")']
        args = parse_args(rest)
        if op != "set" or not args or args[0].upper() not in smslib.CHARSETS:
            raise cme(50)
        self._charset = args[0].upper()
        return []

    def _x_cnmi(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+CNMI: " + ",".join(map(str, self._cnmi))]
        if op == "test":
            return ["+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"]
        args = parse_args(rest)
        if op != "set" or not args:
            raise cms(304)
        limits = (range(4), range(4), (0, 2), range(3), (0, 1))
        try:
            for i, value in enumerate(args[:5]):
                if value != "":
                    self._cnmi[i] = parse_int(value, limits[i])
        except Fail:
            raise cms(304) from None
        return []

    def _x_csmp(self, op: str, rest: str) -> list[str]:
        if op == "read":
            return ["+CSMP: " + ",".join(map(str, self._csmp))]
        if op == "set":
            for i, value in enumerate(parse_args(rest)[:4]):
                if value != "":
                    self._csmp[i] = parse_int(value, range(256))
        return []

    def _x_cpms(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return ['+CPMS: ("SM"),("SM"),("SM")']
        self._need_sim(sms=True)
        used = len(self._store)
        if op == "read":
            return [",".join([f'+CPMS: "SM",{used},{SMS_CAPACITY}'] + [f'"SM",{used},{SMS_CAPACITY}'] * 2)]
        args = parse_args(rest)
        if op != "set" or not args or any(a.upper() != "SM" for a in args[:3]):
            raise cms(302)
        return ["+CPMS: " + ",".join([f"{used},{SMS_CAPACITY}"] * 3)]

    # -- sending: AT+CMGS, the prompt, the body -------------------------------------

    def _x_cmgs(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_sim(sms=True)
        args = parse_args(rest)
        if op != "set" or not args or not args[0]:
            raise cms(304)
        if self._pdu_mode():
            try:
                length = parse_int(args[0], range(7, 165))   # TPDU octets
            except Fail:
                raise cms(304) from None
            self._sms = OutgoingSms("", bytearray(), length)
            return []
        try:
            number = smslib.from_te(args[0], self._charset)
        except ValueError:
            raise cms(304) from None
        self._sms = OutgoingSms(number, bytearray())
        return []

    def _take_sms_body(self) -> bool:
        """Move prompt-mode bytes into the message; True once it is finished."""
        for i, byte in enumerate(self._in):
            if byte in (CTRL_Z, ESC):
                chunk = bytes(self._in[:i])
                del self._in[:i + 1]
                self._sms_chunk(chunk)
                self._finish_sms(aborted=byte == ESC)
                return True
        chunk = bytes(self._in)
        self._in.clear()
        self._sms_chunk(chunk)
        return False

    def _sms_chunk(self, chunk: bytes) -> None:
        if self._sms is None or not chunk:
            return
        self._sms.body += chunk
        pieces = chunk.split(b"\r")
        for n, piece in enumerate(pieces):   # every CR opens a new "> " line
            if self._echo:
                self._emit(piece.replace(b"\n", b""))
            if n < len(pieces) - 1:
                self._emit(b"\r\n> ")

    def _finish_sms(self, *, aborted: bool) -> None:
        sms, self._sms = self._sms, None
        if aborted or sms is None:
            self._respond([], "OK", [])
            return
        try:
            if not self._registered():
                raise cms(331)                      # no network service
            if sms.length is None:
                sent = pdulib.Part(sms.number, smslib.decode_body(bytes(sms.body), self._charset))
            else:
                sent = self._read_pdu_body(bytes(sms.body), sms.length)
        except ValueError as exc:                   # UnicodeDecodeError and BadPdu too
            log.warning("%s emulator: refused an SMS: %s", self.vendor, exc)
            self._respond([], self._final_for(cms(304)), [])
            return
        except Fail as fail:
            self._respond([], self._final_for(fail), [])
            return
        self._mr = self._mr % 255 + 1
        self._record_sent(sent)
        self._respond([f"+CMGS: {self._mr}"], "OK", [])

    def _read_pdu_body(self, body: bytes, length: int) -> pdulib.Part:
        """The hex typed after ``AT+CMGS=<length>``: the service-centre field
        (``00``: the SIM's), then exactly ``length`` octets of SMS-SUBMIT.

        :raises ValueError: not hex, the wrong length, not a valid SUBMIT.
        """
        octets = bytes.fromhex(re.sub(rb"\s", b"", body).decode("ascii"))
        if not octets or len(octets) != 1 + octets[0] + length:
            raise pdulib.BadPdu(f"{len(octets)} octets do not hold a {length}-octet TPDU")
        tpdu = octets[1 + octets[0]:]
        part = pdulib.read_submit(tpdu)
        self.sent_pdus.append(tpdu.hex().upper())
        return part

    def _record_sent(self, part: pdulib.Part) -> None:
        """What the network delivers: a single message at once, a long text
        once its last part went out (parts may go in any order)."""
        if part.ref is None or part.total == 1:
            self.sent_sms.append((part.address, part.text))
            return
        key = (part.address, part.ref, part.total)
        parts = self._sent_parts.setdefault(key, {})
        parts[part.seq] = part.text
        if len(parts) == part.total:
            del self._sent_parts[key]
            self.sent_sms.append((part.address, pdulib.join_text([parts[i] for i in sorted(parts)])))

    # -- reading and deleting -----------------------------------------------------------

    def _sms_header(self, sms: StoredSms) -> str:
        return smslib.header(sms, self._charset, csdh=bool(self._settings["+CSDH"]))

    def _x_cmgr(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return []
        self._need_sim(sms=True)
        args = parse_args(rest)
        if op != "set" or not args:
            raise cms(304)
        try:
            index = parse_int(args[0], range(1, SMS_CAPACITY + 1))
        except Fail:
            raise cms(321) from None
        sms = self._store.get(index)
        if sms is None:
            if self.dialect.cmgr_empty_ok:
                return []
            raise cms(321)
        if self._pdu_mode():
            lines = smslib.pdu_lines(sms, "+CMGR: ")
        else:
            lines = [f"+CMGR: {self._sms_header(sms)}", self._to_te(sms.text)]
        if sms.status == "REC UNREAD":
            sms.status = "REC READ"
        return lines

    def _x_cmgl(self, op: str, rest: str) -> list[str]:
        pdu = self._pdu_mode()
        if op == "test":
            return ["+CMGL: (0-4)" if pdu else "+CMGL: (" + ",".join(f'"{s}"' for s in CMGL_STATS) + ")"]
        self._need_sim(sms=True)
        args = parse_args(rest)
        if pdu:
            try:
                stat = parse_int(args[0], range(5)) if args else 0
            except Fail:
                raise cms(304) from None
            wanted = CMGL_STATS[stat]
        else:
            wanted = args[0].upper() if args else "REC UNREAD"
            if wanted not in CMGL_STATS:
                raise cms(304)
        lines = []
        for index, sms in self._store.items():
            if wanted != "ALL" and sms.status != wanted:
                continue
            if pdu:
                lines += smslib.pdu_lines(sms, f"+CMGL: {index},")
            else:
                lines += [f"+CMGL: {index},{self._sms_header(sms)}", self._to_te(sms.text)]
            if sms.status == "REC UNREAD":
                sms.status = "REC READ"
        return lines

    def _x_cmgd(self, op: str, rest: str) -> list[str]:
        if op == "test":
            return [f"+CMGD: (1-{SMS_CAPACITY}),(0-4)"]
        self._need_sim(sms=True)
        args = parse_args(rest)
        if op != "set" or not args:
            raise cms(304)
        try:
            flag = parse_int(args[1], range(5)) if len(args) > 1 and args[1] != "" else 0
            index = parse_int(args[0])
        except Fail:
            raise cms(304) from None
        if flag == 0:
            if index not in range(1, SMS_CAPACITY + 1):
                raise cms(321)
            self._store.delete(index)
        elif flag == 4:
            self._store.delete_all()
        else:                                       # 1-3: read ones (no sent ones are stored)
            self._store.delete_read()
        return []
