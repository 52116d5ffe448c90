"""The emulated network's side of SMS PDUs (3GPP TS 23.040, TS 23.038).

Owns: building the SMS-DELIVER TPDUs a text arrives in (split into
concatenated parts when long, as a sender's phone does), reading any
SMS-DELIVER back (for text mode's view of a stored PDU) and reading the
SMS-SUBMIT TPDUs ``AT+CMGS`` sends in PDU mode, strictly: a PDU the real
network would refuse is refused here (:class:`BadPdu`). Pure: no I/O, no
modem state.

Written from the specifications' tables on purpose, apart from the
driver's :mod:`firmware.hw.modem.sms_pdu` (and never importing it): the
alphabet is laid out as TS 23.038 prints it (16 rows by 8 columns) and
septets are packed through bit strings, so a mistake in one of the two
implementations shows up as a failing driver-versus-emulator test instead
of agreeing with itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from firmware.errors import SmallPbxError

# TS 23.038 figure 6.2.1: row = bits b4..b1, column = bits b7..b5.
# Code = column * 16 + row. Row 0xB column 1 is the escape (here "\x1b").
_ROWS = (
    "@Δ 0¡P¿p", "£_!1AQaq", "$Φ\"2BRbr", "¥Γ#3CScs",
    "èΛ¤4DTdt", "éΩ%5EUeu", "ùΠ&6FVfv", "ìΨ'7GWgw",
    "òΣ(8HXhx", "ÇΘ)9IYiy", "\nΞ*:JZjz", "Ø\x1b+;KÄkä",
    "øÆ,<LÖlö", "\ræ-=MÑmñ", "Åß.>NÜnü", "åÉ/?O§oà",
)
ALPHABET = {column * 16 + row: chars[column] for row, chars in enumerate(_ROWS) for column in range(8)}
# TS 23.038 figure 6.2.1.1, the extension table: character -> (column, row).
_EXTENSION_AT = {"\f": (0, 10), "^": (1, 4), "{": (2, 8), "}": (2, 9), "\\": (2, 15),
                 "[": (3, 12), "~": (3, 13), "]": (3, 14), "|": (4, 0), "€": (6, 5)}
EXTENSION = {column * 16 + row: ch for ch, (column, row) in _EXTENSION_AT.items()}
ESCAPE = 27
_CODE_OF = {ch: code for code, ch in ALPHABET.items() if code != ESCAPE}
_EXT_CODE_OF = {ch: code for code, ch in EXTENSION.items()}

class BadPdu(SmallPbxError, ValueError):
    """A PDU the network would refuse (AT+CMGS answers ``+CMS ERROR: 304``)."""


@dataclass(frozen=True)
class Part:
    """What a TPDU carries: the text of this part and where it belongs."""

    address: str
    text: str
    ref: int | None = None            # concatenation reference, None for a single message
    total: int = 1
    seq: int = 1
    scts: str = ""                    # SMS-DELIVER only: "yy/MM/dd,hh:mm:ss+zz"


# -- septets ---------------------------------------------------------------------------------------

def to_septets(text: str) -> list[int] | None:
    """The default alphabet's codes for ``text`` (escape pairs for the
    extension table); None if a character has none."""
    codes: list[int] = []
    for ch in text:
        if ch in _CODE_OF:
            codes.append(_CODE_OF[ch])
        elif ch in _EXT_CODE_OF:
            codes.extend((ESCAPE, _EXT_CODE_OF[ch]))
        else:
            return None
    return codes


def from_septets(codes: list[int]) -> str:
    chars: list[str] = []
    escaped = False
    for code in codes:
        if escaped:
            chars.append(" " if code == ESCAPE else EXTENSION.get(code, ALPHABET[code]))
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(ALPHABET[code])
    return "".join(chars)


def _bits(octets: bytes) -> str:
    """The octets as a bit string, each octet least significant bit first."""
    return "".join(format(octet, "08b")[::-1] for octet in octets)


def _octets(bits: str) -> bytes:
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8][::-1], 2) for i in range(0, len(bits), 8))


def pack(codes: list[int], header: bytes = b"") -> bytes:
    """A header's octets, fill bits to the next septet boundary, then the septets."""
    bits = _bits(header)
    bits += "0" * (-len(bits) % 7)
    bits += "".join(format(code, "07b")[::-1] for code in codes)
    return _octets(bits)


def unpack(octets: bytes, septets: int, header_octets: int = 0) -> list[int]:
    bits = _bits(octets)
    start = header_octets * 8
    start += -start % 7
    end = septets * 7
    if end > len(bits):
        raise BadPdu("user data shorter than its length says")
    return [int(bits[i:i + 7][::-1], 2) for i in range(start, end, 7)]


# -- addresses and time stamps ---------------------------------------------------------------------

def _semi_octets(digits: str) -> bytes:
    digits += "F" * (len(digits) % 2)
    return bytes.fromhex("".join(digits[i + 1] + digits[i] for i in range(0, len(digits), 2)))


def _read_semi_octets(octets: bytes) -> str:
    nibbles = octets.hex().upper()
    return "".join(nibbles[i + 1] + nibbles[i] for i in range(0, len(nibbles), 2)).rstrip("F")


def encode_address(address: str) -> bytes:
    """Address length (semi-octets), type of address, value (TS 23.040 §9.1.2.5):
    a number (international with "+"), else alphanumeric in 7-bit."""
    bare = address[1:] if address.startswith("+") else address
    if bare and all(c in "0123456789" for c in bare):
        toa = 0x91 if address.startswith("+") else 0x81
        return bytes([len(bare), toa]) + _semi_octets(bare)
    codes = to_septets(address)
    if codes is None or not codes or len(codes) > 11:
        raise ValueError(f"cannot be a sender: {address!r}")
    value = pack(codes)
    return bytes([-(-len(codes) * 7 // 4), 0xD0]) + value


def read_address(octets: bytes, pos: int) -> tuple[str, int]:
    """The address at ``pos`` and the position after it."""
    length, toa = octets[pos], octets[pos + 1]
    value = octets[pos + 2:pos + 2 + (length + 1) // 2]
    if len(value) < (length + 1) // 2:
        raise BadPdu("truncated address")
    end = pos + 2 + len(value)
    ton = toa >> 4 & 7
    if ton == 5:
        return from_septets(unpack(value, length * 4 // 7)), end
    digits = _read_semi_octets(value)[:length]
    if not digits.isdigit():
        raise BadPdu(f"not a number: {digits!r}")
    return ("+" if ton == 1 else "") + digits, end


def smsc_field(number: str) -> bytes:
    """The service-centre field in front of a TPDU: length in octets, type, number."""
    address = encode_address(number)
    return bytes([len(address) - 1]) + address[1:]


def encode_scts(when: datetime) -> bytes:
    offset = when.utcoffset()
    quarters = int(offset.total_seconds() // 900) if offset is not None else 0
    digits = when.strftime("%y%m%d%H%M%S") + f"{abs(quarters):02d}"
    octets = bytearray(_semi_octets(digits))
    if quarters < 0:
        octets[6] |= 0x08                       # the sign: bit 3 of the zone's first digit
    return bytes(octets)


def read_scts(octets: bytes) -> str:
    """The time stamp as text mode shows it, ``yy/MM/dd,hh:mm:ss±zz``."""
    sign = "-" if octets[6] & 0x08 else "+"
    d = _read_semi_octets(octets[:6] + bytes([octets[6] & 0xF7]))
    return f"{d[0:2]}/{d[2:4]}/{d[4:6]},{d[6:8]}:{d[8:10]}:{d[10:12]}{sign}{d[12:14]}"


# -- user data ---------------------------------------------------------------------------------------

def _concat_header(ref: int, total: int, seq: int) -> bytes:
    """UDHL, then IE 0x00: concatenation with an 8-bit reference (§9.2.3.24.1)."""
    return bytes([5, 0, 3, ref & 0xFF, total, seq])


def split(text: str) -> tuple[bool, list[str]]:
    """(``ucs2``, parts) as a phone sends ``text``: 160 septets or 70 UTF-16
    units in one message, else 153 / 67 per part with an 8-bit reference.
    An escape pair or a surrogate pair is never cut."""
    ucs2 = to_septets(text) is None
    if ucs2:
        cost = [len(ch.encode("utf-16-be")) // 2 for ch in text]
        single, per_part = 70, 67
    else:
        cost = [len(to_septets(ch)) for ch in text]
        single, per_part = 160, 153
    if sum(cost) <= single:
        return ucs2, [text]
    parts, start, used = [], 0, 0
    for i, n in enumerate(cost):
        if used + n > per_part:
            parts.append(text[start:i])
            start, used = i, 0
        used += n
    parts.append(text[start:])
    if len(parts) > 255:
        raise ValueError("text too long for 255 parts")
    return ucs2, parts


def _user_data(text: str, ucs2: bool, header: bytes) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD)."""
    if ucs2:
        body = header + text.encode("utf-16-be")
        return len(body), body
    codes = to_septets(text)
    header_septets = -(-len(header) * 8 // 7)
    return header_septets + len(codes), pack(codes, header)


def deliver_tpdus(sender: str, text: str, when: datetime, ref: int = 0) -> list[bytes]:
    """The SMS-DELIVER TPDUs a text from ``sender`` arrives in (TS 23.040
    §9.2.2.1). All but the last part say "more messages to send" (TP-MMS 0)."""
    ucs2, parts = split(text)
    origin = encode_address(sender)
    scts = encode_scts(when)
    tpdus = []
    for seq, part in enumerate(parts, 1):
        header = _concat_header(ref, len(parts), seq) if len(parts) > 1 else b""
        first = (0x04 if seq == len(parts) else 0x00) | (0x40 if header else 0x00)
        udl, ud = _user_data(part, ucs2, header)
        tpdus.append(bytes([first]) + origin + bytes([0x00, 0x08 if ucs2 else 0x00]) + scts + bytes([udl]) + ud)
    return tpdus


def _coding(dcs: int) -> str:
    if dcs & 0xC0 == 0x00 or dcs & 0xC0 == 0x40:
        return {0: "7bit", 4: "8bit", 8: "ucs2"}.get(dcs & 0x0C, "7bit")
    if dcs & 0xF0 == 0xF0:
        return "8bit" if dcs & 0x04 else "7bit"
    if dcs & 0xF0 == 0xE0:
        return "ucs2"
    return "7bit"


def _read_user_data(tpdu: bytes, pos: int, first: int, dcs: int) -> tuple[str, tuple[int, int, int] | None]:
    """The text and (ref, total, seq) of the user data at ``pos``."""
    if pos >= len(tpdu):
        raise BadPdu("no user data length")
    udl, ud = tpdu[pos], tpdu[pos + 1:]
    header, concat = b"", None
    if first & 0x40:
        if not ud or ud[0] + 1 > len(ud):
            raise BadPdu("truncated user data header")
        header = ud[1:1 + ud[0]]
        i = 0
        while i + 1 < len(header):
            iei, size = header[i], header[i + 1]
            value = header[i + 2:i + 2 + size]
            if iei == 0 and size == 3:
                concat = (value[0], value[1], value[2])
            elif iei == 8 and size == 4:
                concat = (value[0] * 256 + value[1], value[2], value[3])
            i += 2 + size
    coding = _coding(dcs)
    skip = len(header) + 1 if first & 0x40 else 0
    if coding == "7bit":
        return from_septets(unpack(ud, udl, skip)), concat
    if udl > len(ud):
        raise BadPdu("user data shorter than its length says")
    body = ud[skip:udl]
    if coding == "ucs2":
        if len(body) % 2:
            raise BadPdu("odd number of UCS2 octets")
        return body.decode("utf-16-be", "surrogatepass"), concat
    return body.decode("latin-1"), concat


def read_deliver(tpdu: bytes) -> Part:
    """An SMS-DELIVER TPDU (no service-centre field) as text mode shows it."""
    try:
        first = tpdu[0]
        if first & 0x03 != 0:
            raise BadPdu("not an SMS-DELIVER")
        sender, pos = read_address(tpdu, 1)
        dcs = tpdu[pos + 1]
        scts = read_scts(tpdu[pos + 2:pos + 9])
        text, concat = _read_user_data(tpdu, pos + 9, first, dcs)
    except IndexError:
        raise BadPdu("truncated SMS-DELIVER") from None
    ref, total, seq = concat or (None, 1, 1)
    return Part(sender, text, ref, total, seq, scts)


def read_submit(tpdu: bytes) -> Part:
    """An SMS-SUBMIT TPDU (TS 23.040 §9.2.2.2) as the network reads it.

    :raises BadPdu: not a SUBMIT, truncated, or longer than its fields say.
    """
    try:
        first = tpdu[0]
        if first & 0x03 != 0x01:
            raise BadPdu("not an SMS-SUBMIT")
        number, pos = read_address(tpdu, 2)          # after TP-MR
        dcs = tpdu[pos + 1]
        pos += 2 + {0x00: 0, 0x10: 1, 0x08: 7, 0x18: 7}[first & 0x18]   # TP-VPF
        udl = tpdu[pos]
        coding = _coding(dcs)
        ud_octets = -(-udl * 7 // 8) if coding == "7bit" else udl
        if len(tpdu) != pos + 1 + ud_octets:
            raise BadPdu(f"{len(tpdu)} octets, the fields say {pos + 1 + ud_octets}")
        text, concat = _read_user_data(tpdu, pos, first, dcs)
    except IndexError:
        raise BadPdu("truncated SMS-SUBMIT") from None
    if not number:
        raise BadPdu("no destination")
    ref, total, seq = concat or (None, 1, 1)
    return Part(number, text, ref, total, seq)


def join_text(texts: list[str]) -> str:
    """The parts' texts as one (a surrogate pair cut between parts is whole again)."""
    return "".join(texts).encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
