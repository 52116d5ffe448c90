"""Text messages as PDUs (3GPP TS 23.040, alphabets of TS 23.038), and
long texts joined again.

Owns: decoding the SMS-DELIVER PDUs a modem lists in PDU mode
(``AT+CMGF=0``; ``+CMGR``/``+CMGL``), encoding the SMS-SUBMIT PDUs
``AT+CMGS=<length>`` sends (split into concatenated parts when the text is
long), and :class:`Reassembler`, which joins the parts of a long text.
Pure: no I/O, no clock (the time is passed in), no AT commands; the modem
(:mod:`firmware.hw.modem.gsm`) does those. A reassembler's journal (where
parts outlive a restart) is handed in by the line; nothing here imports
the record store. The emulator
(:mod:`firmware.sim.pdu`) has its own, separately written PDU code so that
each checks the other: neither may import the other's.

Why PDU mode: in text mode a module hides the User Data Header, so the
parts of a long text arrive as unrelated messages with no way to join
them. In PDU mode the header is there: information element 0x00
(concatenation, 8-bit reference) or 0x08 (16-bit reference) says "part
*seq* of *total* of message *ref*" (TS 23.040 §9.2.3.24.1, .8).

Alphabets (the data coding scheme, TS 23.038 §4): the GSM 7-bit default
alphabet with its extension table (``€ [ ] { } ~ ^ \\ |`` and form feed
behind an escape), 8-bit data, and UCS2 (UTF-16 in practice: emoji come as
surrogate pairs, which may even be split across parts). National language
shift tables (IEs 0x24/0x25) are not implemented: such texts decode with
the default tables. Sending uses 7-bit when every character is in the
default alphabet and UCS2 otherwise, so any language goes out intact.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Protocol

from firmware.errors import SmallPbxError

log = logging.getLogger(__name__)

# -- TS 23.038 §6.2.1: the GSM 7-bit default alphabet, in code order ----------------------
# 0x1B is the escape to the extension table (kept as U+001B here).
GSM7_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
ESC = 0x1B
# §6.2.1.1: the extension table, reached by ESC + code.
GSM7_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
                  0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}
_GSM7_CODE = {ch: code for code, ch in enumerate(GSM7_DEFAULT) if code != ESC}
_GSM7_EXT_CODE = {ch: code for code, ch in GSM7_EXTENSION.items()}

# Single messages and parts of a long one, in septets (7-bit) or UTF-16
# code units (UCS2): 140 octets of user data, less the concatenation header.
SEPTETS_SINGLE, SEPTETS_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67
MAX_PARTS = 255

IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08
VALIDITY_24H = 0xA7           # relative validity period: (167 - 143) * 30 min + 12 h


class PduError(SmallPbxError, ValueError):
    """A PDU that cannot be decoded (truncated, not hex, not a SMS-DELIVER)."""


# -- what a decoded PDU says ------------------------------------------------------------------

@dataclass(frozen=True)
class Concat:
    """Part ``seq`` of ``total`` of the long message ``ref`` (8- or 16-bit)."""

    ref: int
    total: int
    seq: int
    ref_bits: int = 8


@dataclass(frozen=True)
class InformationElement:
    iei: int
    data: bytes


@dataclass(frozen=True)
class SmsDeliver:
    """One received SMS-DELIVER TPDU, decoded.

    ``text`` is the part's text; for 8-bit data it is the octets read as
    Latin-1. ``data`` is the user data after the header: the octets (8-bit,
    UCS2) or the septets (7-bit). A UCS2 part that ends inside
    a surrogate pair keeps the lone half (joined by :class:`Reassembler`),
    as a 7-bit part ending in an escape keeps it as U+001B.
    """

    sender: str
    text: str
    timestamp: datetime | None
    sent_at: str = ""              # "yy/MM/dd,hh:mm:ss±zz", as text mode shows it
    smsc: str = ""
    sender_toa: int = 0x81
    first_octet: int = 0
    pid: int = 0
    dcs: int = 0
    alphabet: str = "gsm7"         # "gsm7", "8bit" or "ucs2"
    udh: tuple[InformationElement, ...] = ()
    concat: Concat | None = None
    data: bytes = b""

    @property
    def more_messages(self) -> bool:
        """TP-MMS: the service centre has more messages waiting."""
        return not self.first_octet & 0x04

    @property
    def reply_path(self) -> bool:
        return bool(self.first_octet & 0x80)

    @property
    def silent(self) -> bool:
        """TP-PID 0x40, "Short Message Type 0": acknowledged and discarded
        by the receiver (TS 23.040 §9.2.3.9); nobody is meant to read it."""
        return self.pid == 0x40


@dataclass(frozen=True)
class SubmitPdu:
    """One SMS-SUBMIT for ``AT+CMGS=<tpdu_length>``: ``hex`` is what follows
    the prompt (``00``, "the SIM's service centre", then the TPDU)."""

    hex: str
    tpdu_length: int


# -- the GSM 7-bit alphabet ----------------------------------------------------------------------

def gsm7_septets(text: str) -> list[int] | None:
    """The septets of ``text`` in the default alphabet (extension characters
    take two), or None when a character is not in it."""
    out: list[int] = []
    for ch in text:
        code = _GSM7_CODE.get(ch)
        if code is not None:
            out.append(code)
            continue
        code = _GSM7_EXT_CODE.get(ch)
        if code is None:
            return None
        out += (ESC, code)
    return out


def gsm7_text(septets: list[int]) -> str:
    """Septets back to text. An escape before a code the extension table
    lacks shows the default character (§6.2.1.1), ESC ESC a space; an
    escape ending the septets stays (U+001B: a long text's next part may
    hold its character)."""
    out: list[str] = []
    i = 0
    while i < len(septets):
        code = septets[i]
        if code == ESC and i + 1 < len(septets):
            nxt = septets[i + 1]
            out.append(" " if nxt == ESC else GSM7_EXTENSION.get(nxt, GSM7_DEFAULT[nxt]))
            i += 2
            continue
        out.append(GSM7_DEFAULT[code])
        i += 1
    return "".join(out)


def unpack_septets(octets: bytes, count: int, skip: int = 0) -> list[int]:
    """``count`` septets packed little-end first (TS 23.038 §6.1.2.1.1),
    starting ``skip`` septets in; fewer if the octets run out."""
    bits = int.from_bytes(octets, "little")
    count = min(count, len(octets) * 8 // 7 - skip)
    return [(bits >> (7 * (skip + i))) & 0x7F for i in range(max(count, 0))]


def pack_septets(septets: list[int], head: bytes = b"") -> bytes:
    """``head`` (a user data header, octets) then the septets, the first
    one on the next septet boundary (the fill bits of §9.2.3.24 are 0)."""
    bits = int.from_bytes(head, "little")
    start = -(-len(head) * 8 // 7)              # septets the header occupies
    for i, septet in enumerate(septets):
        bits |= septet << (7 * (start + i))
    total_bits = 7 * (start + len(septets))
    return bits.to_bytes(-(-total_bits // 8), "little")


# -- addresses, timestamps ---------------------------------------------------------------------

_BCD_DIGITS = "0123456789*#abc"


def _bcd_digits(octets: bytes, count: int) -> str:
    digits: list[str] = []
    for octet in octets:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble != 0x0F:
                digits.append(_BCD_DIGITS[nibble])
    return "".join(digits[:count])


def _address(octets: bytes, digits: int, toa: int) -> str:
    ton = (toa >> 4) & 0x07
    if ton == 0b101:                            # alphanumeric, 7-bit packed
        return gsm7_text(unpack_septets(octets, digits * 4 // 7)).rstrip("\x1b")
    number = _bcd_digits(octets, digits)
    return "+" + number if ton == 0b001 and number else number


def _swapped(octet: int) -> int | None:
    lo, hi = octet & 0x0F, octet >> 4
    return lo * 10 + hi if lo < 10 and hi < 10 else None


def _timestamp(octets: bytes) -> tuple[datetime | None, str]:
    """TP-SCTS (§9.2.3.11): swapped BCD, the zone in quarter hours with
    its sign in bit 3. Nonsense dates give (None, "") and never lose a
    message."""
    fields = [_swapped(o) for o in octets[:6]]
    zone_octet = octets[6]
    quarters = _swapped(zone_octet & 0xF7)
    if None in fields or quarters is None:
        return None, ""
    if zone_octet & 0x08:
        quarters = -quarters
    yy, month, day, hour, minute, second = fields
    text = f"{yy:02d}/{month:02d}/{day:02d},{hour:02d}:{minute:02d}:{second:02d}{quarters:+03d}"
    try:
        when = datetime(2000 + yy if yy < 90 else 1900 + yy, month, day, hour, minute, second,
                        tzinfo=timezone(timedelta(minutes=15 * quarters)))
    except ValueError:
        return None, text
    return when, text


# -- decoding SMS-DELIVER --------------------------------------------------------------------------

class _Reader:
    def __init__(self, octets: bytes):
        self.octets = octets
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.octets):
            raise PduError(f"PDU ends inside the {what}")
        chunk = self.octets[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        return self.octets[self.pos:]


def _alphabet(dcs: int) -> str:
    """TS 23.038 §4; reserved codings count as the default alphabet."""
    group = dcs >> 4
    if group < 0x8:                             # general data coding (01xx: auto-delete)
        if dcs & 0x20:                          # compressed: nothing here can inflate it
            return "8bit"
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if group == 0xE:                            # message waiting, store, UCS2
        return "ucs2"
    if group == 0xF:                            # data coding / message class
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


def _header(udh: bytes) -> tuple[tuple[InformationElement, ...], Concat | None]:
    ies: list[InformationElement] = []
    concat = None
    i = 0
    while i + 2 <= len(udh):
        iei, size = udh[i], udh[i + 1]
        data = udh[i + 2:i + 2 + size]
        i += 2 + size
        if len(data) < size:
            break                               # a truncated element: ignore it
        ies.append(InformationElement(iei, bytes(data)))
        if iei == IEI_CONCAT_8 and size == 3:
            ref, total, seq, bits = data[0], data[1], data[2], 8
        elif iei == IEI_CONCAT_16 and size == 4:
            ref, total, seq, bits = int.from_bytes(data[:2], "big"), data[2], data[3], 16
        else:
            continue
        # §9.2.3.24.1: a zero total, a zero or too large number: ignore the element.
        if total and 1 <= seq <= total:
            concat = Concat(ref, total, seq, bits)
    return tuple(ies), concat


def decode_deliver(pdu: str | bytes, *, tpdu_length: int | None = None) -> SmsDeliver:
    """Decode an SMS-DELIVER as ``+CMGR``/``+CMGL``/``+CMT`` give it in PDU
    mode: the service-centre address, then the TPDU.

    :param pdu: hex (as the modem sends it) or octets.
    :param tpdu_length: the ``<length>`` of the ``+CMGR`` header (TPDU
        octets); when the PDU is exactly that long it has no service-centre
        field (some modules leave it out).
    :raises PduError: not hex, truncated, or not an SMS-DELIVER.
    """
    if isinstance(pdu, str):
        try:
            octets = bytes.fromhex(pdu.strip())
        except ValueError:
            raise PduError(f"not a hex PDU: {pdu[:40]!r}") from None
    else:
        octets = bytes(pdu)
    r = _Reader(octets)
    smsc = ""
    if tpdu_length is None or len(octets) != tpdu_length:
        smsc_len = r.byte("service-centre length")
        if smsc_len:
            smsc_toa = r.byte("service-centre address")
            smsc = _address(r.take(smsc_len - 1, "service-centre address"), 2 * (smsc_len - 1), smsc_toa)
    first = r.byte("first octet")
    if first & 0x03 != 0x00:
        raise PduError(f"not an SMS-DELIVER (message type {first & 0x03})")
    digits = r.byte("originating address length")
    toa = r.byte("originating address type")
    sender = _address(r.take((digits + 1) // 2, "originating address"), digits, toa)
    pid = r.byte("protocol identifier")
    dcs = r.byte("data coding scheme")
    when, sent_at = _timestamp(r.take(7, "timestamp"))
    udl = r.byte("user data length")
    ud = r.rest()
    alphabet = _alphabet(dcs)
    ies: tuple[InformationElement, ...] = ()
    concat = None
    header_octets = 0
    if first & 0x40 and ud:                     # TP-UDHI
        header_octets = 1 + ud[0]
        ies, concat = _header(ud[1:header_octets])
    if alphabet == "gsm7":
        skip = -(-header_octets * 8 // 7)       # header plus fill bits, in septets
        septets = unpack_septets(ud, udl - skip, skip)
        text = gsm7_text(septets)
        data = bytes(septets)
    else:
        data = ud[header_octets:udl]
        if alphabet == "ucs2":
            data = data[:len(data) - len(data) % 2]
            text = data.decode("utf-16-be", "surrogatepass")
        else:
            text = data.decode("latin-1")
    return SmsDeliver(sender=sender, text=text, timestamp=when, sent_at=sent_at, smsc=smsc,
                      sender_toa=toa, first_octet=first, pid=pid, dcs=dcs, alphabet=alphabet,
                      udh=ies, concat=concat, data=data)


# -- encoding SMS-SUBMIT ------------------------------------------------------------------------------

def _size(ch: str, alphabet: str) -> int:
    """Septets (an extension character takes two) or UTF-16 code units."""
    if alphabet == "gsm7":
        return 1 if ch in _GSM7_CODE else 2
    return 2 if ord(ch) > 0xFFFF else 1


def split_text(text: str, *, ref16: bool = False) -> tuple[str, list[str]]:
    """The alphabet (``gsm7`` or ``ucs2``) and the parts a text is sent in.

    Parts never split an escape sequence or a surrogate pair.
    :raises ValueError: more than 255 parts.
    """
    alphabet = "gsm7" if gsm7_septets(text) is not None else "ucs2"
    if alphabet == "gsm7":
        single, part = SEPTETS_SINGLE, SEPTETS_PART - (1 if ref16 else 0)
    else:
        single, part = UCS2_SINGLE, UCS2_PART - (1 if ref16 else 0)
    if sum(_size(ch, alphabet) for ch in text) <= single:
        return alphabet, [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        n = _size(ch, alphabet)
        if used + n > part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    parts.append("".join(current))
    if len(parts) > MAX_PARTS:
        raise ValueError(f"a text of {len(text)} characters needs {len(parts)} parts; at most {MAX_PARTS}")
    return alphabet, parts


def _destination(number: str) -> bytes:
    digits = number.lstrip("+")
    if not digits or any(d not in "0123456789*#" for d in digits):
        raise ValueError(f"not a phone number: {number!r}")
    toa = 0x91 if number.startswith("+") else 0x81
    nibbles = [_BCD_DIGITS.index(d) for d in digits] + ([0x0F] if len(digits) % 2 else [])
    packed = bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))
    return bytes([len(digits), toa]) + packed


def encode_submit(number: str, text: str, *, ref: int = 0, ref16: bool = False,
                  validity: int = VALIDITY_24H) -> list[SubmitPdu]:
    """The SMS-SUBMIT PDUs that send ``text`` to ``number``: one, or one per
    part with a concatenation header (reference ``ref``, 8-bit unless
    ``ref16``). The modem fills in the message reference (TP-MR 0).

    :param validity: relative validity period octet (§9.2.3.12.1); 24 h.
    :raises ValueError: a number that is not one, or a text over 255 parts.
    """
    alphabet, parts = split_text(text, ref16=ref16)
    head = _destination(number)
    dcs = 0x00 if alphabet == "gsm7" else 0x08
    out: list[SubmitPdu] = []
    for seq, part in enumerate(parts, 1):
        udh = b""
        if len(parts) > 1:
            if ref16:
                ie = bytes([IEI_CONCAT_16, 4]) + (ref & 0xFFFF).to_bytes(2, "big") + bytes([len(parts), seq])
            else:
                ie = bytes([IEI_CONCAT_8, 3, ref & 0xFF, len(parts), seq])
            udh = bytes([len(ie)]) + ie
        if alphabet == "gsm7":
            septets = gsm7_septets(part) or []
            ud = pack_septets(septets, udh)
            udl = -(-len(udh) * 8 // 7) + len(septets)
        else:
            ud = udh + part.encode("utf-16-be")
            udl = len(ud)
        first = 0x01 | 0x10 | (0x40 if udh else 0)      # SUBMIT, relative validity, UDHI
        tpdu = bytes([first, 0x00]) + head + bytes([0x00, dcs, validity & 0xFF, udl]) + ud
        out.append(SubmitPdu("00" + tpdu.hex().upper(), len(tpdu)))
    return out


# -- joining the parts of long texts -------------------------------------------------------------------

MISSING_MARK = "[part {seq} of {total} missing]"
LATE_MARK = "[part {seq} of {total}, late] "
# Parts of one text come seconds apart while the box is registered. One
# still missing after 30 min waits on a service centre's retry schedule
# (hours, if ever): the owner sees the text now, marked, and the part on
# its own (marked "late") if it turns up. With a journal, parts taken off
# the SIM outlive a restart, and the wait counts from when they came.
REASSEMBLY_TIMEOUT_S = 30 * 60.0
MAX_PENDING = 64              # long texts waiting for parts; the oldest goes out first
REMEMBER_S = 24 * 3600.0      # how long a text given out recognises its late or repeated parts
MAX_REMEMBERED = 512


class JournalError(SmallPbxError, OSError):
    """A journal could not keep a part (the caller leaves it on the SIM)."""


@dataclass(frozen=True)
class Message:
    """A whole text, as given out by :class:`Reassembler`.

    :param sent_at: the service centre's time stamp, ``yy/MM/dd,hh:mm:ss±zz``
        (zone in quarter hours), as text mode shows it; "" if unreadable.
    :param parts: how many parts the sender sent it in (1: not a long text).
    :param missing: numbers of the parts not in ``text`` (marked there).
    :param journal_rows: the journal rows holding what it was made of; who
        stores the text forgets them (in the same transaction, if it can).
    """

    sender: str
    text: str
    sent_at: str
    parts: int = 1
    missing: tuple[int, ...] = ()
    journal_rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class KeptPart:
    """A part a journal gave back: its row, the part, seconds since it came."""

    row: int
    part: SmsDeliver
    age: float


class PartJournal(Protocol):
    """Where a :class:`Reassembler` keeps what it was given, so that a
    restart loses no text taken off the SIM. The line supplies one (in the
    record store); this driver never imports the store.

    ``save(part)`` keeps a part (or a text in one part) and returns its row,
    committed by the time it returns, or raises :class:`JournalError`.
    ``load()`` gives back every part still kept, in the order saved, with
    its age (a restart resets monotonic clocks; the journal keeps the wall
    time). ``forget(rows)`` drops rows.
    """

    def save(self, part: SmsDeliver) -> int: ...

    def load(self) -> list[KeptPart]: ...

    def forget(self, rows: Iterable[int]) -> None: ...


@dataclass
class _Pending:
    parts: dict[int, SmsDeliver]
    last_seen: float
    rows: list[int] = field(default_factory=list)   # journal rows of its parts


@dataclass
class _Done:
    seqs: dict[int, int]          # part number -> hash of its text
    at: float


def _finish(text: str) -> str:
    """Pair surrogates split across parts, drop lone halves, and resolve an
    escape whose character came in the next part."""
    text = text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
    if "\x1b" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            code = _GSM7_CODE.get(nxt)
            if code is not None:
                out.append(GSM7_EXTENSION.get(code, nxt))
                i += 2
                continue
            i += 1                              # an escape to nothing: drop it
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class Reassembler:
    """Joins the parts of long texts, by (sender, reference, total).

    Feed every decoded part to :meth:`add` with the current time (any
    monotonic seconds); it returns the messages complete now. Call
    :meth:`expire` now and then (:meth:`next_deadline` says when): a text
    missing a part for ``timeout`` seconds goes out as it is, with
    :data:`MISSING_MARK` where each missing part belongs, rather than be
    lost. So does the oldest one when ``max_pending`` are waiting. For
    ``remember`` seconds after a text went out, a part of it is dropped if
    it was in it (a repeat) or goes out on its own with :data:`LATE_MARK`
    if it was missing. A part repeating one already waiting is dropped.
    The same part number with different content means the sender reused
    the reference (some phones always use the same one): a new text starts,
    and one still waiting goes out as it is.

    With a ``journal`` (:class:`PartJournal`), every part kept (and every
    text in one part) is saved there before :meth:`add` returns, so the
    caller may then delete it from the SIM; :meth:`restore` takes the parts
    back after a restart. Each :class:`Message` names its journal rows, and
    whoever stores the text forgets them: until then a crash repeats the
    text at the next start rather than lose it.

    Thread-safe (one lock), so a line may keep one across modem restarts.
    Lock order: this lock, then the journal's.
    """

    def __init__(self, *, timeout: float = REASSEMBLY_TIMEOUT_S, max_pending: int = MAX_PENDING,
                 remember: float = REMEMBER_S, max_remembered: int = MAX_REMEMBERED,
                 journal: PartJournal | None = None):
        self.timeout = timeout
        self.max_pending = max_pending
        self.remember = remember
        self.max_remembered = max_remembered
        self.journal = journal
        self._pending: dict[tuple, _Pending] = {}
        self._done: dict[tuple, _Done] = {}
        self._held: list[Message] = []    # given out during an add the journal refused
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Long texts waiting for parts."""
        with self._lock:
            return len(self._pending)

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to give out; None if nothing waits."""
        with self._lock:
            if self._held:
                return -float("inf")
            if not self._pending:
                return None
            return min(p.last_seen for p in self._pending.values()) + self.timeout

    def add(self, part: SmsDeliver, now: float) -> list[Message]:
        """Take one part (or a text in one part); the texts whole now.

        :raises JournalError: the journal could not save the part. The part
            is not taken (leave it on the SIM); texts that became due meanwhile
            come with the next call.
        """
        with self._lock:
            out = self._held + self._expire(now)
            self._held = []
            try:
                out += self._take(part, now)
            except JournalError:
                self._held = out
                raise
            return out

    def expire(self, now: float) -> list[Message]:
        """Give out the texts whose parts stopped coming ``timeout`` ago."""
        with self._lock:
            out = self._held + self._expire(now)
            self._held = []
            return out

    def restore(self, now: float) -> list[Message]:
        """Take back what the journal kept (after a restart), each part as if
        it came ``age`` seconds before ``now``, so a timeout still counts
        from when the parts came. Returns the texts whole or overdue now;
        rows that only repeat a part are forgotten. Call once, before the
        first :meth:`add`.

        :raises JournalError: the journal could not be read.
        """
        if self.journal is None:
            return []
        kept = self.journal.load()
        repeats: list[int] = []
        with self._lock:
            out = []
            for k in kept:
                at = now - max(0.0, k.age)    # a clock set back at boot: the wait starts again
                out += self._expire(at)
                out += self._take(k.part, at, row=k.row, repeats=repeats)
            out += self._expire(now)
        if repeats:
            try:
                self.journal.forget(repeats)
            except JournalError as exc:     # housekeeping only: dropped again at the next start
                log.warning("repeated text parts not forgotten: %s", exc)
        return out

    def _keep(self, part: SmsDeliver, row: int | None) -> tuple[int, ...]:
        """The part's journal rows: saved now unless replayed from the journal."""
        if row is not None:
            return (row,)
        if self.journal is None:
            return ()
        return (self.journal.save(part),)

    def _take(self, part: SmsDeliver, now: float, *, row: int | None = None,
              repeats: list[int] | None = None) -> list[Message]:
        """One part in. ``row``: its journal row when replayed from the
        journal (a repeat's row then goes to ``repeats``); otherwise a part
        worth keeping is saved first."""
        c = part.concat
        if c is None:
            rows = self._keep(part, row)
            return [Message(part.sender, _finish(part.text), part.sent_at, journal_rows=rows)]
        key = (part.sender, c.ref_bits, c.ref, c.total)
        done = self._done.get(key)
        seen = done.seqs.get(c.seq) if done is not None else None
        waiting = self._pending.get(key)
        if (seen is not None and seen == hash(part.text)) or (
                waiting is not None and c.seq in waiting.parts and waiting.parts[c.seq].text == part.text):
            # In a text already (read again off the SIM): nothing to keep.
            if row is not None and repeats is not None:
                repeats.append(row)
            return []
        # Saved before anything changes: if the journal refuses, nothing happened.
        rows = self._keep(part, row)
        out: list[Message] = []
        if done is not None:
            if seen is None:                    # missing when the text went out
                done.seqs[c.seq] = hash(part.text)
                others = tuple(s for s in range(1, c.total + 1) if s != c.seq)
                text = LATE_MARK.format(seq=c.seq, total=c.total) + _finish(part.text)
                return [Message(part.sender, text, part.sent_at, c.total, others, rows)]
            del self._done[key]                 # new content: the sender reused the reference
        if waiting is not None and c.seq in waiting.parts:
            out.append(self._give_out(key, now))
            del self._done[key]                 # the same reference for a new text
            waiting = None
        if waiting is None:
            if len(self._pending) >= self.max_pending:
                oldest = min(self._pending, key=lambda k: self._pending[k].last_seen)
                out.append(self._give_out(oldest, now))
            waiting = self._pending[key] = _Pending({}, now)
        waiting.parts[c.seq] = part
        waiting.rows += rows
        waiting.last_seen = max(waiting.last_seen, now)
        if len(waiting.parts) == c.total:
            out.append(self._give_out(key, now))
        return out

    def _expire(self, now: float) -> list[Message]:
        for key in [k for k, d in self._done.items() if now - d.at >= self.remember]:
            del self._done[key]
        late = [k for k, p in self._pending.items() if now - p.last_seen >= self.timeout]
        return [self._give_out(key, now) for key in late]

    def _give_out(self, key: tuple, now: float) -> Message:
        sender, _, _, total = key
        waiting = self._pending.pop(key)
        parts = waiting.parts
        pieces: list[str] = []
        missing: list[int] = []
        for seq in range(1, total + 1):
            part = parts.get(seq)
            if part is None:
                missing.append(seq)
                pieces.append(MISSING_MARK.format(seq=seq, total=total))
            else:
                pieces.append(part.text)
        self._done[key] = _Done({seq: hash(p.text) for seq, p in parts.items()}, now)
        while len(self._done) > self.max_remembered:
            del self._done[next(iter(self._done))]
        first = parts[min(parts)]
        return Message(sender, _finish("".join(pieces)), first.sent_at, total, tuple(missing),
                       tuple(waiting.rows))
