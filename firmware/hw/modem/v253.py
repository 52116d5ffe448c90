"""An analog phone line through a USB voice modem (ITU-T V.253): the FXO line.

Owns the modem's voice state (ringing, caller ID, the call, the voice data
stream) and turns what it reports into the same events a GSM line gives
(:class:`~firmware.hw.modem.gsm.IncomingCall`, ``CallAnswered``,
``CallEnded``, ``DtmfReceived``, ``LineState``) plus :class:`LineSignal`
for what only an analog line hears (busy or dial tone, fax tones, silence).
It never touches pjsua2: the call's audio goes in and out through an
audio callback or a pair of rings (see :class:`VoiceModem`).

Voice data (V.253 §9-10): after ``AT+VTR`` (full duplex) or ``AT+VRX`` /
``AT+VTX`` (half duplex) and ``CONNECT``, both directions carry raw
samples in the format chosen with ``AT+VSM``; a 0x10 (DLE) in the samples
is doubled, and ``<DLE><code>`` carries events (the modem's DTMF digits,
busy tone ...) and commands (ours: ``<DLE>^`` leaves full duplex,
``<DLE>!`` aborts receiving, ``<DLE><ETX>`` ends transmitting). The modem
ends its data with ``<DLE><ETX>`` and then says ``OK``.

Pacing: the modem sends samples at its own 8 kHz clock; for every 20 ms
frame that arrives, one frame goes back (after two frames of silence at the
start, so its playout buffer never runs dry on a late USB transfer). No
timer of ours drifts against the modem's clock. Half duplex "talk" (VTX)
has no incoming samples to count, so a 20 ms monotonic schedule paces it.

Threads and locks:

- the AT reader thread (:class:`~firmware.hw.modem.at.AtChannel`) runs
  ``_urc`` (RING, caller ID) and ``_on_data`` (voice data: decoding,
  events, the audio callback, writing the answer frame). It never takes
  ``_call_lock`` (a command holding it may be waiting for this thread);
- the worker thread does what reports ask for (hang up after the far end
  left, restart a stream the modem dropped, notice a caller who gave up);
- callers' threads run ``answer``, ``hang_up``, ``dial``, ``send_dtmf``
  and ``set_direction``, one at a time under ``_call_lock``;
- the pacer thread exists only while a half-duplex modem talks.

``on_event`` and the audio callback are called from these threads and must
return quickly. The flags the reader reads (``_mode``, ``_ending``,
``in_call``) are plain attributes set under ``_call_lock``; the reader
itself only clears ``_mode`` (the modem ended its data) and sets
``_ending`` (the far end left), and hands the rest to the worker.

Wiring: a USB modem (Conexant CX93010 class, USRobotics 5637) shows up as
``/dev/ttyACM0``; its RJ11 "LINE" jack goes to the exchange line, and the
box is then a phone on that line. Any pyserial URL works (a pty, socket://).
"""
from __future__ import annotations

import functools
import logging
import queue
import re
import struct
import sys
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Callable, Protocol

import serial

from firmware.hw.modem.at import AtChannel, CommandError, ModemError, ModemTimeout
from firmware.hw.modem.gsm import CallAnswered, CallEnded, DtmfReceived, IncomingCall, LineState

log = logging.getLogger(__name__)

__all__ = ["CallAnswered", "CallEnded", "CallerId", "DleDecoder", "DtmfReceived", "FORMATS", "IncomingCall",
           "LineSignal", "LineState", "SampleFormat", "VoiceModem", "choose_format", "shield"]

DLE, ETX, SUB = 0x10, 0x03, 0x1A
RATE = 8000
FRAME_BYTES = 320               # 20 ms of S16LE mono 8 kHz, as an AudioRing frame
FRAME_SECONDS = 0.020
SILENCE = bytes(FRAME_BYTES)
PRIME_FRAMES = 2                # silence sent first: the modem's playout margin
DTMF_KEYS = "0123456789*#ABCD"

# Simple event reports shielded in the modem's data (V.253 Table 14, IS-101).
SIGNALS = {
    "b": "busy", "d": "dial-tone", "l": "loop-break", "h": "line-current-break",
    "H": "line-current", "s": "silence", "q": "quiet", "c": "fax-calling", "e": "data-calling",
    "a": "answer-tone", "f": "data-answer", "r": "ringback", "R": "ring", "$": "bong",
}
DIAGNOSTICS = {"u": "transmit underrun", "o": "receive overrun"}
QUIET_CODES = "/~X."            # DTMF start/end marks, complex report brackets
# What ends our data state, per state (Conexant/USR manuals): full duplex
# leaves with <DLE>^, receive is aborted with <DLE>!, transmit ends with <DLE><ETX>.
STOP = {"vtr": b"\x10^", "vrx": b"\x10!", "vtx": b"\x10\x03"}
START = {"vtr": "AT+VTR", "vrx": "AT+VRX", "vtx": "AT+VTX"}

URC = re.compile(r"^(RING\b.*|(DATE|TIME|NMBR|NAME|MESG|DDN_NMBR)\s*=.*|DRO[NF]\s*=.*)$")
CID_LINE = re.compile(r"^(DATE|TIME|NMBR|NAME|MESG|DDN_NMBR)\s*=\s*(.*?)\s*$")
WITHHELD = {"P": "private", "O": "unavailable"}
CID_BLOCK_GAP = 1.0             # s: lines of one caller ID report come together
CID_BEFORE_RING = 5.0           # s: a report before the first ring (UK style) belongs to it
DIALABLE = re.compile(r"[0-9*#][0-9*#,]{0,31}")     # "," is a dialling pause (behind a PBX: "9,...")


# -- events --------------------------------------------------------------------------

@dataclass(frozen=True)
class LineSignal:
    """Something the modem heard on the line: ``busy``, ``dial-tone``,
    ``loop-break``, ``silence``, ``fax-calling`` ... (see :data:`SIGNALS`)."""
    signal: str


@dataclass(frozen=True)
class CallerId:
    """A caller ID report (Bellcore/ETSI FSK, as the modem formats it).

    :param withheld: ``""``, ``"private"`` (``P``) or ``"unavailable"`` (``O``).
    """
    number: str = ""
    name: str = ""
    date: str = ""          # MMDD
    time: str = ""          # HHMM
    withheld: str = ""


# -- sample formats ------------------------------------------------------------------

_LITTLE = sys.byteorder == "little"
_XOR80 = bytes(b ^ 0x80 for b in range(256))


def _samples(pcm: bytes, code: str) -> array:
    a = array(code)
    a.frombytes(pcm)
    if not _LITTLE:
        a.byteswap()
    return a


def s16_to_u8(pcm: bytes) -> bytes:
    """S16LE -> 8-bit unsigned linear: the high byte, offset by 128."""
    return bytes(pcm[1::2]).translate(_XOR80)


def u8_to_s16(data: bytes) -> bytes:
    out = bytearray(2 * len(data))
    out[1::2] = bytes(data).translate(_XOR80)
    return bytes(out)


def s16_to_s8(pcm: bytes) -> bytes:
    return bytes(pcm[1::2])


def s8_to_s16(data: bytes) -> bytes:
    out = bytearray(2 * len(data))
    out[1::2] = data
    return bytes(out)


_ULAW_BIAS, _ULAW_CLIP = 0x84, 32635


def ulaw_encode_sample(sample: int) -> int:
    """One 16-bit sample to G.711 µ-law."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _ULAW_CLIP) + _ULAW_BIAS
    exponent = max(0, min(7, magnitude.bit_length() - 8))
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def ulaw_decode_sample(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS << ((code >> 4) & 7)) - _ULAW_BIAS
    return -magnitude if code & 0x80 else magnitude


_ULAW_DECODE = [struct.pack("<h", ulaw_decode_sample(c)) for c in range(256)]


@functools.cache
def _ulaw_table() -> bytes:
    # Indexed by the sample as unsigned 16 bits; built once, on first use (~50 ms).
    return bytes(ulaw_encode_sample(v - 65536 if v >= 32768 else v) for v in range(65536))


def s16_to_ulaw(pcm: bytes) -> bytes:
    return bytes(map(_ulaw_table().__getitem__, _samples(pcm, "H")))


def ulaw_to_s16(data: bytes) -> bytes:
    return b"".join(map(_ULAW_DECODE.__getitem__, data))


@dataclass(frozen=True)
class SampleFormat:
    """A voice format on the wire and its conversions to and from S16LE."""
    name: str
    width: int                               # bytes per sample
    decode: Callable[[bytes], bytes]         # wire -> S16LE
    encode: Callable[[bytes], bytes]         # S16LE -> wire


FORMATS = {
    # 16-bit linear is taken as little-endian: the byte order of the PC
    # modems that offer it (USR "LINEAR",16 and Conexant "SIGNED PCM",16).
    "s16": SampleFormat("s16", 2, bytes, bytes),
    "ulaw": SampleFormat("ulaw", 1, ulaw_to_s16, s16_to_ulaw),
    "u8": SampleFormat("u8", 1, u8_to_s16, s16_to_u8),
    "s8": SampleFormat("s8", 1, s8_to_s16, s16_to_s8),
}
# µ-law before 8-bit linear: the same 8 bits keep ~13 bits of range, so a
# quiet caller is not lost in quantisation noise.
PREFERENCE = ("s16", "ulaw", "u8", "s8")

VSM_LINE = re.compile(r'^(?:\+VSM:\s*)?(\d+)\s*,\s*"?([^",]*)"?\s*,\s*(\d+)\s*,\s*\d+\s*,\s*(\([^)]*\)|[^,]*)')


def classify(name: str, bits: int) -> str | None:
    """The format a ``+VSM=?`` line describes, or None if unusable here."""
    key = re.sub(r"[^A-Z0-9]", "", name.upper())
    if bits == 8 and ("ULAW" in key or "G711U" in key):
        return "ulaw"
    if any(word in key for word in ("ALAW", "ADPCM", "CELP", "GSM")):
        return None
    if "PCM" in key or "LINEAR" in key:
        if bits == 16 and "UNSIGNED" not in key:
            return "s16"
        if bits == 8:
            return "s8" if "SIGNED" in key.replace("UNSIGNED", "") else "u8"
    return None


def _offers_8khz(field: str) -> bool:
    for part in field.strip().strip("()").split(","):
        part = part.strip()
        if "-" in part:
            low, _, high = part.partition("-")
            if low.strip().isdigit() and high.strip().isdigit() and int(low) <= RATE <= int(high):
                return True
        elif part == str(RATE):
            return True
    return False


def choose_format(lines: list[str]) -> tuple[int, SampleFormat] | None:
    """Pick from ``AT+VSM=?``'s lines the best format offered at 8 kHz.

    :returns: ``(compression method number, format)``, or None.
    """
    offered: dict[str, int] = {}
    for line in lines:
        m = VSM_LINE.match(line.strip())
        if not m or not _offers_8khz(m.group(4)):
            continue
        kind = classify(m.group(2), int(m.group(3)))
        if kind and kind not in offered:
            offered[kind] = int(m.group(1))
    for kind in PREFERENCE:
        if kind in offered:
            return offered[kind], FORMATS[kind]
    return None


# -- DLE shielding -------------------------------------------------------------------

def shield(data: bytes) -> bytes:
    """Samples to send: every DLE doubled so the modem does not take it as a code."""
    return data.replace(b"\x10", b"\x10\x10")


class DleDecoder:
    """The modem's voice data: samples, shielded events, and where it ends.

    :param audio: False for the transmit state, where the modem sends only
        events, and its result code in plain text once transmitting ended:
        the first plain byte is then the end of the data.
    """

    def __init__(self, audio: bool = True):
        self.audio = audio
        self._dle = False                   # a chunk ended between DLE and its code

    def feed(self, chunk: bytes) -> tuple[bytes, list[str], bytes | None]:
        """:returns: ``(samples, event codes, rest)``; ``rest`` is None while
        the data goes on, else the bytes after ``<DLE><ETX>`` (lines again)."""
        if self._dle:
            chunk, self._dle = b"\x10" + chunk, False
        out = bytearray()
        events: list[str] = []
        i, n = 0, len(chunk)
        while i < n:
            j = chunk.find(b"\x10", i)
            plain = chunk[i:] if j < 0 else chunk[i:j]
            if plain:
                if not self.audio:
                    return bytes(out), events, chunk[i:]
                out += plain
            if j < 0:
                break
            if j + 1 >= n:
                self._dle = True
                break
            code = chunk[j + 1]
            i = j + 2
            if code == DLE:
                out.append(DLE)
            elif code == SUB:               # <DLE><SUB>: two DLEs in the data (V.253)
                out += b"\x10\x10"
            elif code == ETX:
                return bytes(out), events, chunk[i:]
            else:
                events.append(chr(code))
        return bytes(out), events, None


# -- the modem ----------------------------------------------------------------------

class AudioSink(Protocol):
    def write(self, data: bytes) -> None: ...


class AudioSource(Protocol):
    def read(self, size: int = FRAME_BYTES) -> bytes: ...


AudioCallback = Callable[[bytes], "bytes | None"]


class VoiceModem:
    """A V.253 voice modem on an analog line.

    Audio: every 20 ms frame of the caller's voice (320 bytes S16LE mono
    8 kHz) is given to ``on_audio(frame)``, which returns the frame to send
    down the line (None or short: silence). Or give ``to_pbx`` (anything
    with ``write(bytes)``) and ``from_pbx`` (``read(320) -> bytes``), e.g.
    the two :class:`~firmware.core.ringbuffer.AudioRing` of a line port.
    Both run on the AT reader thread, paced by the modem's clock.

    :param url: serial device or pyserial URL.
    :param on_event: receives the events (from the driver's threads).
    :param hangup_on: DLE event codes meaning the far end is gone: ``b``
        busy tone, ``d`` dial tone, ``l`` loop current interrupted, ``h``
        line current break. ``s``/``q`` count too once ``silence_timeout``
        is set.
    :param silence_timeout: seconds of silence from the line that end a
        call (``AT+VSD``; measured here when the modem refuses it); None: never.
    :param silence_level: peak below which a frame is silent (16-bit scale).
    :param ring_timeout: seconds after the last RING when a caller has given up.
    :param timeout: seconds to wait for an answer to a command.
    :param duplex: None: try ``AT+VTR`` and fall back to half duplex; True/False forces it.
    """

    def __init__(self, url: str, *, on_event: Callable[[object], None] = lambda e: None,
                 on_audio: AudioCallback | None = None, to_pbx: AudioSink | None = None,
                 from_pbx: AudioSource | None = None, hangup_on: str = "bdlh",
                 silence_timeout: float | None = None, silence_level: int = 300,
                 ring_timeout: float = 8.0, timeout: float = 5.0, duplex: bool | None = None,
                 open_port: Callable[..., object] = serial.serial_for_url):
        self.url = url
        self.on_event = on_event
        self.on_audio = on_audio
        self.to_pbx = to_pbx
        self.from_pbx = from_pbx
        self.hangup_on = hangup_on
        self.silence_timeout = silence_timeout
        self.silence_level = silence_level
        self.ring_timeout = ring_timeout
        self.timeout = timeout
        self.duplex = duplex
        self.open_port = open_port
        self.port = None
        self.channel: AtChannel | None = None
        self.format: SampleFormat | None = None
        self.compression: int | None = None
        self.caller = ""
        self.caller_id: CallerId | None = None
        self.in_call = False
        self.ringing = False
        self.frames_in = 0
        self.frames_out = 0
        self.underruns = 0                  # the modem's <DLE>u reports
        self.overruns = 0                   # its <DLE>o reports
        self._call_lock = threading.RLock()
        self._call_id = 0
        self._stream_id = 0                 # one per data state: a pacer outliving its state stops
        self._mode: str | None = None       # vtr, vrx, vtx while in a data state
        self._ending = False                # the call is being torn down: no more audio
        self._stopping = False              # we asked the modem to leave its data state
        self._tx_lock = threading.Lock()    # no audio goes after the code that ends the data
        self._modem_vsd = False             # the modem reports silence itself (AT+VSD taken)
        self._decoder = DleDecoder()
        self._rx_carry = b""
        self._rx_pcm = bytearray()
        self._primed = False
        self._silent_frames = 0
        self._cid: dict[str, str] = {}
        self._cid_at = 0.0
        self._rings = 0
        self._last_ring = 0.0
        self._announced = False
        self._work: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._pacer: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self, init_timeout: float = 5.0) -> None:
        """Open the port, start the threads and set the modem up (:meth:`init`)."""
        try:
            self.port = self.open_port(self.url, baudrate=115200, timeout=0.1)
        except (OSError, ValueError) as exc:
            raise ModemError(f"cannot open {self.url}: {exc}") from exc
        self.channel = AtChannel(self.port, is_urc=lambda line: bool(URC.match(line)), on_urc=self._urc,
                                 eager=True)
        self.channel.start()
        self._stop.clear()
        self._worker = threading.Thread(target=self._work_loop, name="v253-worker", daemon=True)
        self._worker.start()
        self.init(init_timeout)

    def close(self) -> None:
        """Put the line back on hook if a call is up, stop the threads, close
        the port. Safe to call twice."""
        if self.channel is not None and (self.in_call or self._mode):
            try:
                self.hang_up()
            except ModemError as exc:
                log.warning("could not hang up while closing: %s", exc)
        self._stop.set()
        self._work.put(None)
        for thread in (self._worker, self._pacer):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2)
        self._worker = self._pacer = None
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.port is not None:
            try:
                self.port.close()
            except OSError:
                pass
            self.port = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def at(self, command: str, timeout: float | None = None, **kw) -> list[str]:
        if self.channel is None:
            raise ModemError("the modem is not started")
        return self.channel.command(command, self.timeout if timeout is None else timeout, **kw)

    @property
    def streaming(self) -> str | None:
        """The data state the modem is in: ``vtr``, ``vrx``, ``vtx`` or None."""
        return self._mode

    # -- set-up -------------------------------------------------------------------
    def init(self, timeout: float = 5.0) -> str:
        """Reset the modem into voice mode with caller ID and an 8 kHz format.

        :returns: the line state (``up``), also sent as :class:`LineState`.
        :raises ModemTimeout: the modem does not answer.
        :raises ModemError: it has no voice mode or no usable format.
        """
        for attempt in range(3):
            try:
                self.at("AT", timeout / 3)
                break
            except ModemTimeout:
                if attempt == 2:
                    raise
        self.at("ATZ", timeout)
        self.at("ATE0", timeout)
        try:
            self.at("AT+FCLASS=8", timeout)
        except CommandError as exc:
            raise ModemError(f"{self.url}: no voice mode (AT+FCLASS=8: {exc.code})") from exc
        self._enable_caller_id(timeout)
        self._choose_format(timeout)
        self._emit(LineState("up"))
        return "up"

    def _enable_caller_id(self, timeout: float) -> None:
        for cmd in ("AT+VCID=1", "AT#CID=1"):
            try:
                self.at(cmd, timeout)
                return
            except CommandError:
                continue
        log.warning("%s: the modem refuses caller ID (+VCID and #CID): calls arrive without a number", self.url)

    def _choose_format(self, timeout: float) -> None:
        try:
            offered = self.at("AT+VSM=?", timeout)
        except CommandError:
            offered = []
        choice = choose_format(offered)
        if choice is None:
            # V.253's method 1 (8-bit linear) is what nearly every voice modem has.
            log.warning("%s: no known 8 kHz format in AT+VSM=? %s: trying 8-bit linear", self.url, offered)
            choice = (1, FORMATS["u8"])
        cml, fmt = choice
        try:
            self.at(f"AT+VSM={cml},{RATE}", timeout)
        except CommandError as exc:
            raise ModemError(f"{self.url}: the modem refused voice format {cml} at 8 kHz ({exc.code})") from exc
        self.compression, self.format = cml, fmt
        log.info("%s: voice format %s (+VSM=%d)", self.url, fmt.name, cml)

    # -- calls ------------------------------------------------------------------------
    def answer(self) -> None:
        """Take the ringing call: off hook (``AT+VLS=1``), then voice data.

        :raises ModemError: the modem refused or did not answer; the line is
            put back on hook.
        """
        with self._call_lock:
            if self.in_call:
                raise ModemError("a call is already up")
            self.at("AT+VLS=1", also_ok=("VCON",))
            self.ringing = False
            self._begin_call()
        self._emit(CallAnswered())

    def dial(self, number: str, timeout: float = 60.0) -> None:
        """Call ``number`` (tone dialling); returns once the far end answered.

        Answer is what the modem presumes from the ringback going away
        (``+VRA``/``+VRN``): its ``OK`` or ``VCON``.

        :raises ValueError: not a dialable number.
        :raises CommandError: ``BUSY``, ``NO ANSWER``, ``NO DIALTONE`` ...
            (also reported as :class:`CallEnded`).
        """
        if not DIALABLE.fullmatch(number):
            raise ValueError(f"not a dialable number: {number!r}")
        with self._call_lock:
            if self.in_call or self.ringing:
                raise ModemError("the line is busy with another call")
            try:
                self.at(f"ATDT{number}", timeout, also_ok=("VCON",))
            except CommandError as exc:
                self._on_hook(quiet=True)
                self._emit(CallEnded(exc.code.lower()))
                raise
            except ModemTimeout:
                self._on_hook(quiet=True)
                raise
            self._begin_call()
        self._emit(CallAnswered())

    def hang_up(self) -> None:
        """Leave the voice data state and put the line on hook. Like a GSM
        line, a hang-up of ours is not reported as :class:`CallEnded`.

        :raises ModemError: the modem did not go on hook (it hangs, or vanished).
        """
        with self._call_lock:
            self._ending = True
            try:
                self._stop_stream()
                self._on_hook()
            finally:
                self.in_call = self.ringing = False

    def send_dtmf(self, digits: str) -> None:
        """Send keys down the line (``AT+VTS``, 100 ms each by default).

        The modem takes commands only between data states: audio pauses for
        the time it takes (about 0.2 s plus the tones).
        """
        if not digits or len(digits) > 32 or any(d not in DTMF_KEYS for d in digits):
            raise ValueError(f"not DTMF keys: {digits!r}")
        with self._call_lock:
            if not self.in_call:
                raise ModemError("no call to send DTMF on")
            mode = self._mode
            self._stop_stream()
            try:
                self.at("AT+VTS=" + ",".join(digits), self.timeout + 0.3 * len(digits))
            finally:
                if mode and self.in_call and not self._ending:
                    self._start_stream(mode)

    def set_direction(self, direction: str) -> None:
        """Half duplex only: ``"listen"`` (``AT+VRX``, the default after an
        answer) or ``"talk"`` (``AT+VTX``). A full-duplex modem does both."""
        if direction not in ("listen", "talk"):
            raise ValueError(f"direction is listen or talk, not {direction!r}")
        with self._call_lock:
            if not self.in_call or self.duplex:
                return
            mode = "vtx" if direction == "talk" else "vrx"
            if self._mode != mode:
                self._stop_stream()
                self._start_stream(mode)

    def _begin_call(self) -> None:
        """Off hook: the call is up; start its voice data. Under ``_call_lock``."""
        self.in_call = True
        self._ending = False
        self._call_id += 1
        try:
            self._set_silence_detection()
            if self.duplex is not False:
                try:
                    self._start_stream("vtr")
                    self.duplex = True
                    return
                except CommandError:
                    if self.duplex:
                        raise
                    log.info("%s: no full duplex (AT+VTR): half duplex, listening", self.url)
                    self.duplex = False
            self._start_stream("vrx")
        except ModemError:
            self.in_call = False
            self._on_hook(quiet=True)
            raise

    def _set_silence_detection(self) -> None:
        self._modem_vsd = False
        if self.silence_timeout is None:
            return
        tenths = max(1, min(255, round(self.silence_timeout * 10)))
        try:
            self.at(f"AT+VSD=128,{tenths}")   # 128: the manufacturer's sensitivity
            self._modem_vsd = True
        except CommandError:
            log.info("%s: no AT+VSD: measuring silence here", self.url)

    def _on_hook(self, quiet: bool = False) -> None:
        try:
            try:
                self.at("AT+VLS=0")
            except CommandError:
                self.at("ATH")
        except ModemError:
            if not quiet:
                raise
            log.warning("%s: could not put the line on hook", self.url)

    # -- voice data states ---------------------------------------------------------
    def _start_stream(self, mode: str) -> None:
        """Enter a data state; under ``_call_lock``."""
        self._decoder = DleDecoder(audio=mode != "vtx")
        self._rx_carry, self._rx_pcm = b"", bytearray()
        self._primed = False
        self._silent_frames = 0
        self._mode = mode
        self._stream_id += 1
        try:
            self.at(START[mode], stream=self._on_data)
        except ModemError:
            self._mode = None
            raise
        if mode == "vtx":
            self._pacer = threading.Thread(target=self._pace_talk, args=(self._stream_id,),
                                           name="v253-talk", daemon=True)
            self._pacer.start()

    def _stop_stream(self) -> None:
        """Leave the data state, if in one; under ``_call_lock``."""
        mode = self._mode
        if mode is None or self.channel is None:
            self._mode = None
            return
        with self._tx_lock:
            self._stopping = True
        try:
            self.channel.end_stream(STOP[mode], timeout=min(2.0, self.timeout))
        except ModemTimeout:
            log.warning("%s: the modem stays in voice data: aborting it and dropping DTR", self.url)
            self._force_command_mode()
        except CommandError as exc:
            log.warning("%s: leaving voice data: %s", self.url, exc.code)
        finally:
            self._mode = None
            self._stopping = False
        pacer, self._pacer = self._pacer, None
        if pacer is not None and pacer is not threading.current_thread():
            pacer.join(timeout=1)

    def _force_command_mode(self) -> None:
        """The last resorts for a modem that will not leave its data state:
        every end code, then DTR low (AT&D2, the default: hang up, command mode)."""
        try:
            self.channel.write_raw(b"\x10!\x10\x03\x10^")
        except ModemError:
            pass
        try:
            self.port.dtr = False
            self._stop.wait(0.2)
            self.port.dtr = True
        except (OSError, ValueError, AttributeError):
            pass                            # a pty or socket has no DTR

    # -- voice data (AT reader thread) ---------------------------------------------
    def _on_data(self, chunk: bytes) -> bytes | None:
        data, events, rest = self._decoder.feed(chunk)
        if data:
            self._take_samples(data)
        for code in events:
            self._dle_event(code)
        if rest is not None:
            mode, self._mode = self._mode, None
            if not self._stopping:
                log.warning("%s: the modem left voice data (%s) on its own", self.url, mode)
                self._work.put(("data-ended", self._call_id, mode))
        return rest

    def _take_samples(self, data: bytes) -> None:
        fmt = self.format or FORMATS["u8"]
        raw = self._rx_carry + data
        whole = len(raw) - len(raw) % fmt.width
        self._rx_carry = raw[whole:]
        self._rx_pcm += fmt.decode(raw[:whole])
        while len(self._rx_pcm) >= FRAME_BYTES:
            frame = bytes(self._rx_pcm[:FRAME_BYTES])
            del self._rx_pcm[:FRAME_BYTES]
            self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        """20 ms from the line: to the box, and the box's 20 ms back."""
        if self._ending or not self.in_call:
            return
        self.frames_in += 1
        out = self._exchange(frame)
        if self._mode == "vtr":
            if not self._primed:
                self._primed = True
                self._send(SILENCE * PRIME_FRAMES)
            self._send(out)
        if self.silence_timeout is not None and not self._modem_vsd:
            self._watch_silence(frame)

    def _exchange(self, frame: bytes) -> bytes:
        try:
            if self.on_audio is not None:
                out = self.on_audio(frame)
            else:
                if self.to_pbx is not None:
                    self.to_pbx.write(frame)
                out = self.from_pbx.read(FRAME_BYTES) if self.from_pbx is not None else None
        except Exception:  # a broken consumer must not stop the line
            log.exception("the audio callback failed")
            out = None
        out = bytes(out or b"")[:FRAME_BYTES]
        return out + SILENCE[len(out):]

    def _send(self, pcm: bytes) -> None:
        data = shield((self.format or FORMATS["u8"]).encode(pcm))
        with self._tx_lock:
            # After <DLE>^ the modem is back in command mode: audio then would
            # be taken for a command line.
            if self._stopping or self._mode not in ("vtr", "vtx"):
                return
            try:
                self.channel.write_raw(data)
                self.frames_out += len(pcm) // FRAME_BYTES
            except (ModemError, AttributeError) as exc:
                log.debug("voice data not sent: %s", exc)

    def _watch_silence(self, frame: bytes) -> None:
        samples = _samples(frame, "h")
        if max(max(samples), -min(samples)) >= self.silence_level:
            self._silent_frames = 0
            return
        self._silent_frames += 1
        if self._silent_frames * FRAME_SECONDS >= self.silence_timeout:
            self._far_end_gone("silence")

    def _dle_event(self, code: str) -> None:
        if code in DTMF_KEYS:
            self._emit(DtmfReceived(code))
            return
        if code in DIAGNOSTICS:
            if code == "u":
                self.underruns += 1
            else:
                self.overruns += 1
            log.debug("%s: %s", self.url, DIAGNOSTICS[code])
            return
        name = SIGNALS.get(code)
        if name is None:
            if code not in QUIET_CODES:
                log.debug("%s: unknown voice event <DLE>%r", self.url, code)
            return
        self._emit(LineSignal(name))
        ends = code in self.hangup_on or (code in "sq" and self.silence_timeout is not None)
        if ends and self.in_call:
            self._far_end_gone(name)

    def _far_end_gone(self, reason: str) -> None:
        if not self._ending:
            self._ending = True             # no more audio to or from the box
            self._work.put(("far-end-gone", self._call_id, reason))

    def _pace_talk(self, stream_id: int) -> None:
        """Half duplex, talking: one frame every 20 ms on a monotonic schedule."""
        due = time.monotonic()
        self._send(SILENCE * PRIME_FRAMES)
        while self._mode == "vtx" and self._stream_id == stream_id and not self._stop.is_set():
            if not self._ending:
                self._send(self._exchange(SILENCE))   # the line is not heard while talking
            due += FRAME_SECONDS
            lag = time.monotonic() - due
            if lag > 1.0:
                due += lag                  # the box stalled: do not burst to catch up
            self._stop.wait(max(0.0, -lag))

    # -- unsolicited lines (AT reader thread) --------------------------------------------
    def _urc(self, line: str) -> None:
        now = time.monotonic()
        if line == "RING" or line.startswith("RING "):
            self._last_ring = now
            if self.in_call:
                return
            if not self.ringing:
                self.ringing, self._rings, self._announced = True, 1, False
                if now - self._cid_at > CID_BEFORE_RING:
                    self._cid = {}          # an old report belongs to another call
                elif "NMBR" in self._cid:
                    self._announce()        # caller ID came before the first ring
                return
            self._rings += 1
            if not self._announced:
                self._announce()            # the report falls between rings 1 and 2
            return
        m = CID_LINE.match(line)
        if m:
            if self.in_call:
                return
            if not self.ringing and now - self._cid_at > CID_BLOCK_GAP:
                self._cid = {}              # the first line of a report before the first ring
            self._cid[m.group(1)] = m.group(2)
            self._cid_at = now
            if self.ringing and not self._announced and "NMBR" in self._cid and "NAME" in self._cid:
                self._announce()
            return
        if line == "OK":
            return                          # the tail of a data state that ended on its own
        log.debug("%s: unexpected line %r", self.url, line)

    def _announce(self) -> None:
        cid = self._cid
        number = cid.get("NMBR", "")
        withheld = WITHHELD.get(number, "")
        name = cid.get("NAME", "")
        self.caller_id = CallerId(number="" if withheld else number,
                                  name="" if name in WITHHELD else name,
                                  date=cid.get("DATE", ""), time=cid.get("TIME", ""), withheld=withheld)
        self.caller = self.caller_id.number
        self._announced = True
        self._cid, self._cid_at = {}, 0.0      # the next report starts afresh
        self._emit(IncomingCall(self.caller))

    def _emit(self, event: object) -> None:
        try:
            self.on_event(event)
        except Exception:  # a bad listener must not stop the modem's threads
            log.exception("handling modem event %r failed", event)

    # -- worker: what reports ask for --------------------------------------------------
    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._work.get(timeout=0.2)
            except queue.Empty:
                self._check_ring()
                continue
            try:
                if job is not None:
                    self._job(*job)
                self._check_ring()
            except ModemError as exc:
                log.error("%s: %s failed: %s", self.url, job[0] if job else "ring check", exc)
            finally:
                self._work.task_done()

    def _job(self, kind: str, call_id: int, detail: str) -> None:
        with self._call_lock:
            if call_id != self._call_id or not self.in_call:
                return                      # that call is over already
            if kind == "far-end-gone":
                log.info("%s: the far end hung up (%s)", self.url, detail)
                try:
                    self._stop_stream()
                    self._on_hook()
                finally:
                    self.in_call = False
                    self._emit(CallEnded(detail))
            elif kind == "data-ended" and not self._ending:
                try:
                    self._start_stream(detail)      # e.g. its inactivity timer: the call goes on
                except ModemError:
                    self.in_call = False
                    self._on_hook(quiet=True)
                    self._emit(CallEnded("modem"))

    def _check_ring(self) -> None:
        if self.ringing and not self.in_call and time.monotonic() - self._last_ring > self.ring_timeout:
            self.ringing = False
            self._cid = {}
            if self._announced:
                self._emit(CallEnded("missed"))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the jobs reports asked for are done (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._work.unfinished_tasks and time.monotonic() < deadline:
            self._stop.wait(0.01)
        return not self._work.unfinished_tasks
