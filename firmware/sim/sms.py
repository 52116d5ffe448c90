"""Text messages on the emulated SIM: storage and both modes' views.

Owns: the SIM's ``"SM"`` message storage (:class:`SmsStore`, 50 slots
numbered from 1, kept across reboots like a real SIM), the records of
stored and outgoing messages, and the representations of 3GPP TS 27.005:
in text mode strings in the ``+CSCS`` character set, service-centre
timestamps and ``+CMGR``/``+CMGL`` headers; in PDU mode the numeric
``<stat>`` and the stored PDU with the service centre in front. The PDUs
themselves are :mod:`firmware.sim.pdu`'s. No I/O, no AT parsing, no
locking: the SMS command handlers (``sms_commands``) call it under the
emulator's lock.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from firmware.sim import pdu as pdulib

SMS_CAPACITY = 50                      # "SM" storage slots on the emulated SIM
CMGL_STATS = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL")
SERVICE_CENTRE = "+8613800100500"
CHARSETS = ("IRA", "GSM", "UCS2")
PDU_STATS = {"REC UNREAD": 0, "REC READ": 1, "STO UNSENT": 2, "STO SENT": 3}   # 4: all


@dataclass
class StoredSms:
    """One stored message: its TPDU as it came, and what text mode shows of
    it (a part of a long text shows as that part's text alone)."""

    sender: str
    text: str
    scts: str                           # "yy/MM/dd,hh:mm:ss+zz"
    status: str = "REC UNREAD"
    tpdu: bytes = b""                   # the SMS-DELIVER, without the service centre


@dataclass
class OutgoingSms:
    """A message being typed after ``AT+CMGS``, up to Ctrl-Z: text mode's
    text for ``number``, or in PDU mode hex of ``length`` TPDU octets."""

    number: str
    body: bytearray
    length: int | None = None           # PDU mode


class SmsStore:
    """The SIM's ``"SM"`` storage: ``capacity`` slots numbered from 1."""

    def __init__(self, capacity: int = SMS_CAPACITY):
        self.capacity = capacity
        self._slots: dict[int, StoredSms] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, sms: StoredSms) -> int | None:
        """Store at the lowest free index; None when full."""
        index = next((i for i in range(1, self.capacity + 1) if i not in self._slots), None)
        if index is not None:
            self._slots[index] = sms
        return index

    def get(self, index: int) -> StoredSms | None:
        return self._slots.get(index)

    def items(self) -> list[tuple[int, StoredSms]]:
        """``(index, message)`` in index order."""
        return sorted(self._slots.items())

    def delete(self, index: int) -> None:
        self._slots.pop(index, None)

    def delete_all(self) -> None:
        self._slots.clear()

    def delete_read(self) -> None:
        for i in [i for i, sms in self._slots.items() if sms.status == "REC READ"]:
            del self._slots[i]


def to_te(text: str, charset: str) -> str:
    """A string as the TE sees it in the ``+CSCS`` character set."""
    if charset == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    return text


def from_te(text: str, charset: str) -> str:
    """A string the TE sent in the ``+CSCS`` character set.

    :raises ValueError: not valid UCS2 hex.
    """
    if charset != "UCS2":
        return text
    if len(text) % 4 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
        raise ValueError(f"not UCS2 hex: {text!r}")
    return bytes.fromhex(text).decode("utf-16-be")


def decode_body(raw: bytes, charset: str) -> str:
    """The text of a message typed after ``AT+CMGS`` (line ends become ``\\n``).

    :raises ValueError: not decodable in the character set.
    """
    raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if charset == "UCS2":
        return from_te(re.sub(rb"\s", b"", raw).decode("ascii"), charset)
    return raw.decode("latin-1")


def now(tz_quarters: int) -> datetime:
    """The service centre's clock: now, in the ``tz_quarters`` zone."""
    return datetime.now(timezone(timedelta(minutes=15 * tz_quarters)))


def pdu_lines(sms: StoredSms, head: str) -> list[str]:
    """``+CMGR: <stat>,,<length>`` (``head`` is ``+CMGR: `` or ``+CMGL: <index>,``)
    and the PDU: the service centre, then the TPDU, in hex."""
    return [f"{head}{PDU_STATS[sms.status]},,{len(sms.tpdu)}",
            (pdulib.smsc_field(SERVICE_CENTRE) + sms.tpdu).hex().upper()]


def header(sms: StoredSms, charset: str, *, csdh: bool) -> str:
    """The fields after ``+CMGR: `` (after ``+CMGL: <index>,``), with the
    detailed tail when ``AT+CSDH=1``."""
    text = f'"{sms.status}","{to_te(sms.sender, charset)}","","{sms.scts}"'
    if csdh:
        ucs2 = any(ord(c) > 0x7F for c in sms.text)
        length = len(sms.text.encode("utf-16-be")) if ucs2 else len(sms.text)
        text += (f',{145 if sms.sender.startswith("+") else 129},4,0,{8 if ucs2 else 0},'
                 f'"{SERVICE_CENTRE}",145,{length}')
    return text
