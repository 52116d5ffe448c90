"""The emulated voice modem's voice data: formats, DLE shielding, the far end's voice.

Owns: the compression methods an emulated modem lists for ``AT+VSM=?``
(:class:`Compression`, and the lists of two modem families as their AT
manuals print them), the sample conversions between those wire formats and
S16LE, the parser of what the DTE sends in a data state
(:class:`DteStream`), and :class:`FarEndVoice`, the caller's queued voice
and what the box sent back. Pure: no I/O, no clock, no threads; the
emulator calls in under its lock.

The conversions are written here on purpose apart from the driver's
(``firmware/hw/modem/v253.py``): µ-law by searching the decoder's levels,
linear formats sample by sample, so a mistake in one is caught by the other.
"""
from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass

DLE, ETX = 0x10, 0x03
RATE = 8000
FRAME_SAMPLES = 160                     # 20 ms at 8 kHz


@dataclass(frozen=True)
class Compression:
    """One line of ``AT+VSM=?``.

    :param kind: the emulated wire format (``u8``, ``s8``, ``ulaw``,
        ``s16``), or None for a method listed but not emulated (ADPCM, A-law):
        selecting it is refused.
    :param line: the line as the modem prints it.
    :param rates: the sample rates it takes.
    """
    cml: int
    kind: str | None
    line: str
    rates: tuple[int, ...] = (7200, 8000)


# USRobotics 56K command reference (the 5637's family), +VSM=? example.
USR_COMPRESSIONS = (
    Compression(1, "u8", '1,"UNSIGNED PCM",8,0,(7200,8000),(0),(0)'),
    Compression(128, "u8", '128,"8-BIT LINEAR",8,0,(7200,8000),(0),(0)'),
    Compression(129, None, '129,"ADPCM",4,0,(7200,8000),(0),(0)'),
    Compression(130, "u8", '130,"UNSIGNED PCM",8,0,(7200,8000),(0),(0)'),
    Compression(131, "ulaw", '131,"ULAW",8,0,(7200,8000),(0),(0)'),
    Compression(132, None, '132,"ALAW",8,0,(7200,8000),(0),(0)'),
    Compression(133, "s16", '133,"LINEAR",16,0,(7200,8000),(0),(0)'),
)
# The same without 16-bit linear: µ-law is then the best on offer.
ULAW_COMPRESSIONS = tuple(c for c in USR_COMPRESSIONS if c.cml != 133)
# Rockwell/Conexant RC56 and CX06833 manuals: 8-bit unsigned PCM and ADPCMs
# only, rates listed bare (no parentheses around single values).
ROCKWELL_COMPRESSIONS = (
    Compression(1, "u8", '1,"UNSIGNED PCM",8,0,(7200,8000,11025),0,0', (7200, 8000, 11025)),
    Compression(129, None, '129,"IMA ADPCM",4,0,(7200,8000),0,0'),
    Compression(130, "u8", '130,"UNSIGNED PCM",8,0,(7200,8000,11025),0,0', (7200, 8000, 11025)),
    Compression(140, None, '140,"2 Bit ADPCM",2,0,8000,0,0', (8000,)),
    Compression(141, None, '141,"4 Bit ADPCM",4,0,8000,0,0', (8000,)),
)


# -- wire formats <-> S16LE -------------------------------------------------------------

def _ulaw_level(code: int) -> int:
    """The linear value of µ-law ``code`` (G.711: complemented sign, exponent, mantissa)."""
    inverted = code ^ 0xFF
    exponent, mantissa = (inverted >> 4) & 0x07, inverted & 0x0F
    value = ((2 * mantissa + 33) << exponent) * 4 - 132
    return -value if inverted & 0x80 else value


def _ulaw_interval(code: int) -> int:
    """Where the interval of ``code`` starts: G.711 decodes to its middle."""
    exponent = ((code ^ 0xFF) >> 4) & 0x07
    return _ulaw_level(code) - (4 << exponent)


# Positive intervals, ascending, with their codes: encoding finds the interval.
_POSITIVE = sorted((_ulaw_interval(code), code) for code in range(0x80, 0x100))
_POSITIVE_STARTS = [start for start, _ in _POSITIVE]


def _ulaw_code(sample: int) -> int:
    magnitude = min(abs(sample), 32635)
    code = _POSITIVE[bisect.bisect_right(_POSITIVE_STARTS, magnitude) - 1][1]
    return code & 0x7F if sample < 0 else code


def _unpack(pcm: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(pcm) // 2}h", pcm[:len(pcm) // 2 * 2])


def encode(kind: str, pcm: bytes) -> bytes:
    """S16LE to the wire format ``kind``."""
    if kind == "s16":
        return bytes(pcm)
    samples = _unpack(pcm)
    if kind == "u8":
        return bytes((s >> 8) + 128 for s in samples)
    if kind == "s8":
        return bytes((s >> 8) & 0xFF for s in samples)
    if kind == "ulaw":
        return bytes(_ulaw_code(s) for s in samples)
    raise ValueError(f"no such wire format: {kind!r}")


def decode(kind: str, data: bytes) -> bytes:
    """The wire format ``kind`` to S16LE."""
    if kind == "s16":
        return bytes(data)
    if kind == "u8":
        values = [(b - 128) << 8 for b in data]
    elif kind == "s8":
        values = [(b - 256 if b > 127 else b) << 8 for b in data]
    elif kind == "ulaw":
        values = [_ulaw_level(b) for b in data]
    else:
        raise ValueError(f"no such wire format: {kind!r}")
    return struct.pack(f"<{len(values)}h", *values)


def width(kind: str) -> int:
    return 2 if kind == "s16" else 1


def shield(data: bytes) -> bytes:
    """Wire samples as the modem sends them: each DLE doubled."""
    return data.replace(b"\x10", b"\x10\x10")


# -- what the DTE sends in a data state ----------------------------------------------

class DteStream:
    """Splits the DTE's data into wire samples and its ``<DLE>`` commands.

    :param enders: the codes that end this data state (``^``, ``!``, ETX).
    """

    def __init__(self, enders: str):
        self.enders = enders
        self._dle = False

    def feed(self, data: bytes) -> tuple[bytes, list[str], str | None, bytes]:
        """:returns: ``(samples, the other codes, ending code or None, bytes
        after the ending)``."""
        samples = bytearray()
        codes: list[str] = []
        for i, byte in enumerate(data):
            if not self._dle:
                if byte == DLE:
                    self._dle = True
                else:
                    samples.append(byte)
                continue
            self._dle = False
            if byte == DLE:
                samples.append(DLE)
                continue
            code = chr(byte)
            if code in self.enders:
                return bytes(samples), codes, code, bytes(data[i + 1:])
            codes.append(code)
        return bytes(samples), codes, None, b""


# -- the far end's voice --------------------------------------------------------------

class FarEndVoice:
    """The far end's side of the audio: what it says and what it hears.

    :param kind: the wire format in use.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self.queued = bytearray()           # S16LE still to say
        self._carry = b""                   # half a 16-bit sample

    def say(self, pcm: bytes) -> None:
        self.queued += pcm

    def next_frame(self) -> tuple[bytes, bool]:
        """20 ms of wire data, shielded, and whether it was silent."""
        pcm = bytes(self.queued[:2 * FRAME_SAMPLES])
        del self.queued[:2 * FRAME_SAMPLES]
        pcm += bytes(2 * FRAME_SAMPLES - len(pcm))
        return shield(encode(self.kind, pcm)), not any(pcm)

    def hear(self, wire: bytes) -> bytes:
        """The box's wire samples as S16LE (half a sample waits for the rest)."""
        data = self._carry + wire
        whole = len(data) - len(data) % width(self.kind)
        self._carry = data[whole:]
        return decode(self.kind, data[:whole])
