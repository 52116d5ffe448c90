"""An emulated V.253 voice modem (analog line) on a pty.

Owns: :class:`V253Emulator`, a USB voice modem as the box sees it (a
USRobotics 5637 / Conexant class modem in ``+FCLASS=8``) with the phone
line behind it: its AT session, hook state, caller ID, voice data states
paced at 8 kHz with DLE shielding, and the far end's API (ring with caller
ID, speak, press keys, hang up, answer our call) and misbehaviour (hang,
garbage, vanish). The voice formats and the far end's audio are
:mod:`firmware.sim.v253_voice`'s; the pty and its thread are
:mod:`firmware.sim.pty_server`'s; command-line splitting is
:mod:`firmware.sim.at_syntax`'s. It must not import the driver: it is the
far side of the USB cable, written from the manuals (V.253, USRobotics and
Conexant voice command references).

What is emulated:

- commands: ``ATZ``, ``ATE``, ``ATI``, ``ATH``, ``ATA`` (``VCON`` in voice
  mode), ``ATD`` (voice: the result waits for the far end; ``OK``, or
  ``VCON`` with ``vcon=True``, ``BUSY``, ``NO ANSWER``, ``NO DIALTONE``),
  ``+FCLASS``, ``+VCID`` or ``#CID`` (``cid=``), ``+VSM``, ``+VLS``,
  ``+VTR`` (unless ``duplex=False``), ``+VRX``, ``+VTX``, ``+VTS``,
  ``+VSD`` (unless ``silence_detection=False``), and the settings a driver
  may give (``+VGR``, ``+VGT``, ``+VIT``, ``+VRA``, ``+VRN``, ``+VNH``,
  ``+IFC``, ``+VTD``); voice commands answer ``ERROR`` outside ``+FCLASS=8``;
- caller ID after the first RING (or before it), MDMF style:
  ``DATE=MMDD``, ``TIME=HHMM``, ``NMBR=``, ``NAME=`` (``P`` private, ``O``
  unavailable), or with spaces around ``=`` (``cid_spaced=True``);
- data states: ``CONNECT``, then every 20 ms one frame of the far end's
  voice in the chosen format with each DLE doubled, DLE events (DTMF keys,
  ``b`` busy, ``d`` dial tone, ``l`` loop break, ``s``/``q`` silence after
  ``+VSD``); the DTE's data is decoded into :attr:`captured_audio`.
  ``<DLE>^`` or ``<DLE>!`` (or ``<DLE><ETX>``) leave full duplex,
  ``<DLE>!`` leaves receive, ``<DLE><ETX>`` leaves transmit; the modem
  answers ``<DLE><ETX>`` (not after transmit) and ``OK``.

Threads and locks: the pty's server thread reads, runs the timers (rings,
20 ms ticks, dialling) and writes, always under ``_lock``; the far-end API
takes ``_lock`` from the test's thread and queues output through the
server. ``_lock`` is never held across blocking I/O.

Usage::

    with V253Emulator() as line:
        modem = VoiceModem(line.path, on_event=events.put)
        modem.start()
        line.incoming_call("5551234", "ALICE")
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from firmware.errors import SmallPbxError
from firmware.sim.at_syntax import EOL, EXTENDED, Fail, parse_args, parse_int, split_command_line
from firmware.sim.pty_server import PtyServer
from firmware.sim.v253_voice import FRAME_SAMPLES, RATE, USR_COMPRESSIONS, Compression, DteStream, FarEndVoice

__all__ = ["MODES", "V253Emulator", "V253EmulatorError"]

log = logging.getLogger(__name__)

MODES = (None, "hang", "garbage", "vanish")
DTMF_KEYS = "0123456789*#ABCD"
FRAME_SECONDS = FRAME_SAMPLES / RATE
# What a "garbage" modem sends: undecodable bytes, stray DLE codes, half
# lines; never a result code and never <DLE><ETX>.
JUNK = b"\r\n\xff\xfe\x00\x10z\x1b[0m\x81\r\n\xc3\x28\x10\xa0 RIN\r\nNMBR\x10\x10=\r\n+VS"
ENDERS = {"vtr": "^!\x03", "vrx": "!^", "vtx": "\x03"}
SETTINGS = ("+VGR", "+VGT", "+VIT", "+VRA", "+VRN", "+VNH", "+IFC", "+VTD", "+VDR", "+VEN")


class V253EmulatorError(SmallPbxError, RuntimeError):
    """The emulator was used in a way no real line allows."""


@dataclass
class Call:
    number: str
    incoming: bool
    state: str                  # ringing, dialling, connected, gone
    name: str = ""
    withheld: str | None = None
    when: datetime | None = None
    rings: int = 0
    signal: str | None = None   # what the line carries once the far end left: b, d, l


class V253Emulator:
    """A V.253 voice modem and its phone line, on the far side of a pty.

    :param compressions: what ``AT+VSM=?`` lists (see :mod:`~firmware.sim.v253_voice`).
    :param duplex: has ``AT+VTR``; False: half duplex only.
    :param cid: ``"+VCID"`` or ``"#CID"``: the command enabling caller ID.
    :param cid_spaced: report ``NMBR = 123`` instead of ``NMBR=123``.
    :param cid_before_ring: send caller ID before the first RING (as UK
        exchanges do), not between the first and the second.
    :param vcon: ``ATD``/``+VLS`` answer ``VCON`` instead of ``OK``.
    :param silence_detection: has ``AT+VSD`` (then reports ``<DLE>s``/``q``).

    Tunable attributes (tests shorten them): ``ring_interval`` (5.0 s),
    ``answer_delay`` (2.0 s from ``ATD`` to the far end's answer or
    refusal), ``dial_outcome`` (``answer``, ``busy``, ``no-answer``,
    ``no-dialtone``), ``busy_interval`` (4.0 s between ``<DLE>b``),
    ``tone_time`` (0.1 s per ``+VTS`` key), ``max_rings`` (10),
    ``clock_error`` (0.0; 0.1: the modem's 8 kHz clock runs 10 % fast).

    Observation: ``commands``, ``dialled``, ``sent_dtmf``, ``off_hook``,
    ``call_state``, ``data_state``, ``format``, ``captured_audio`` (what the
    box sent, as S16LE), ``samples_sent`` (to the box, in data states),
    ``dle_pairs_received``/``dle_pairs_sent`` (shielded 0x10 bytes),
    ``dte_codes`` (the DTE's DLE commands).
    """

    def __init__(self, *, compressions: tuple[Compression, ...] = USR_COMPRESSIONS, duplex: bool = True,
                 cid: str = "+VCID", cid_spaced: bool = False, cid_before_ring: bool = False,
                 vcon: bool = False, silence_detection: bool = True):
        if cid not in ("+VCID", "#CID"):
            raise ValueError(f"cid is +VCID or #CID, not {cid!r}")
        self.compressions = compressions
        self.duplex = duplex
        self.cid = cid
        self.cid_spaced = cid_spaced
        self.cid_before_ring = cid_before_ring
        self.vcon = vcon
        self.silence_detection = silence_detection
        self.ring_interval = 5.0
        self.answer_delay = 2.0
        self.dial_outcome = "answer"
        self.busy_interval = 4.0
        self.tone_time = 0.1
        self.max_rings = 10
        self.clock_error = 0.0
        self.path: str | None = None

        self.commands: list[str] = []
        self.dialled: list[str] = []
        self.sent_dtmf: list[str] = []
        self.dte_codes: list[str] = []
        self.captured_audio = bytearray()
        self.samples_sent = 0
        self.dle_pairs_received = 0
        self.dle_pairs_sent = 0

        self._lock = threading.RLock()
        self._server = PtyServer("v253-emulator", self._lock, receive=self._receive, process=self._process)
        self._closed = False
        self._mode: str | None = None
        self._in = bytearray()
        self._busy = False                      # a command's result is still to come
        self._call: Call | None = None
        self._voice_queue = bytearray()         # the far end's voice, said once connected
        self._data: str | None = None
        self._connect = "vtr"                   # the data state a CONNECT starts
        self._dte: DteStream | None = None
        self._far: FarEndVoice | None = None
        self._events: list[str] = []            # DLE codes for the next frame
        self._tick_gen = 0
        self._next_tick = 0.0
        self._silent_for = 0.0
        self._voiced = False
        self._silence_told = False
        self._reset()

    def _reset(self) -> None:
        self._echo = True
        self._fclass = 0
        self._cid_on = 0
        self._off_hook = False
        self._compression = next(c for c in self.compressions if c.kind)
        self._vsd = (128, 50)
        self._stop_data()

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> str:
        """Open the pty and serve it. :returns: the path for pyserial."""
        with self._lock:
            if self._closed:
                raise V253EmulatorError("this emulator was closed; make a new one")
            if self._server.thread is not None:
                raise V253EmulatorError("already started")
            self.path = self._server.start()
        return self.path

    def close(self) -> None:
        """Stop serving and close the pty. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.close()

    def __enter__(self) -> "V253Emulator":
        if self._server.thread is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- observation ---------------------------------------------------------

    @property
    def call_state(self) -> str:
        """``idle``, ``ringing``, ``dialling``, ``connected`` or ``gone`` (far end left)."""
        with self._lock:
            return self._call.state if self._call else "idle"

    @property
    def off_hook(self) -> bool:
        return self._off_hook

    @property
    def data_state(self) -> str | None:
        """``vtr``, ``vrx``, ``vtx`` while streaming, else None."""
        return self._data

    @property
    def format(self) -> str | None:
        """The wire format chosen with ``AT+VSM``."""
        return self._compression.kind

    # -- the far end (any thread) ----------------------------------------------

    def incoming_call(self, number: str, name: str = "", *, withheld: str | None = None,
                      when: datetime | None = None) -> None:
        """The line rings: ``RING`` every ``ring_interval`` s, caller ID after the first.

        :param withheld: ``"private"`` (``P``) or ``"unavailable"`` (``O``)
            instead of the number (and name).
        """
        if withheld not in (None, "private", "unavailable"):
            raise ValueError(f"withheld is private or unavailable, not {withheld!r}")
        with self._lock:
            if self._call is not None or self._off_hook:
                raise V253EmulatorError("the line is busy: call waiting is not emulated")
            self._call = Call(number, incoming=True, state="ringing", name=name, withheld=withheld,
                              when=when or datetime.now())
            self._ring(self._call)

    def play_caller_audio(self, pcm: bytes) -> None:
        """Queue what the far end says (S16LE mono 8 kHz); it goes out in the
        data states, 20 ms per frame (silence when nothing is queued)."""
        if len(pcm) % 2:
            raise ValueError("S16LE audio has an even number of bytes")
        with self._lock:
            if self._far is not None:
                self._far.say(pcm)
            else:
                self._voice_queue += pcm

    def send_dtmf(self, digits: str) -> None:
        """The far end presses keys: ``<DLE><key>`` in the next frame (only
        heard in a data state, as on a real modem without ``+VEN``)."""
        if not digits or any(d not in DTMF_KEYS for d in digits):
            raise ValueError(f"not DTMF keys: {digits!r}")
        with self._lock:
            if self._data is None:
                log.warning("DTMF %s outside a data state: not reported", digits)
                return
            self._events.extend(digits)

    def remote_hangup(self, signal: str | None = "b") -> None:
        """The far end hangs up (or gives up ringing).

        :param signal: what the modem then hears: ``"b"`` busy tone
            (``<DLE>b`` every ``busy_interval`` s), ``"d"`` dial tone
            (likewise), ``"l"`` a loop current break (once), None: silence.
        """
        if signal not in (None, "b", "d", "l"):
            raise ValueError(f"signal is b, d, l or None, not {signal!r}")
        with self._lock:
            call = self._call
            if call is None:
                log.warning("remote_hangup() with no call")
                return
            if call.state == "ringing":
                self._call = None
                return
            call.state, call.signal = "gone", signal
            self._voice_queue.clear()
            if self._far is not None:
                self._far.queued.clear()
            if signal is not None and self._data is not None:
                self._events.append(signal)
                if signal in "bd":
                    self._server.schedule(self.busy_interval, lambda: self._repeat_tone(call))

    def leave_data_state(self) -> None:
        """The modem leaves its data state on its own (its inactivity timer,
        ``+VIT``): ``<DLE><ETX>`` and ``OK``, the line stays off hook."""
        with self._lock:
            if self._data is None:
                raise V253EmulatorError("not in a data state")
            self._end_data(b"")

    def misbehave(self, mode: str | None) -> None:
        """``"hang"``: swallow everything, say nothing (no rings, no voice
        data); ``"garbage"``: answer every command, and fill the voice data,
        with junk; ``"vanish"``: the USB device is gone (the pty closes for
        good); None: normal again."""
        if mode not in MODES:
            raise ValueError(f"unknown misbehaviour {mode!r}; known: {MODES}")
        with self._lock:
            if self._mode == "vanish":
                raise V253EmulatorError("a vanished modem does not come back; make a new one")
            self._mode = mode
        if mode == "vanish":
            self._server.close()

    # -- output ----------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if data and self._mode not in ("hang", "vanish") and not self._closed:
            self._server.send(data)

    def _line_out(self, text: str) -> None:
        self._send(b"\r\n" + text.encode("latin-1", "replace") + b"\r\n")

    # -- rings and caller ID ------------------------------------------------------

    def _ring(self, call: Call) -> None:
        if self._call is not call or call.state != "ringing":
            return
        if call.rings >= self.max_rings:
            self._call = None                   # the caller gives up
            return
        call.rings += 1
        if self._mode != "hang":
            cid = self._cid_lines(call) if call.rings == 1 and self._cid_on and self._fclass == 8 else []
            for line in (cid + ["RING"]) if self.cid_before_ring else (["RING"] + cid):
                self._line_out(line)
        self._server.schedule(self.ring_interval, lambda: self._ring(call))

    def _cid_lines(self, call: Call) -> list[str]:
        eq = " = " if self.cid_spaced else "="
        when = call.when or datetime.now()
        mark = {"private": "P", "unavailable": "O"}.get(call.withheld or "")
        lines = [f"DATE{eq}{when:%m%d}", f"TIME{eq}{when:%H%M}", f"NMBR{eq}{mark or call.number}"]
        if mark or call.name:
            lines.append(f"NAME{eq}{mark or call.name}")
        return lines

    # -- input (server thread, under _lock) -------------------------------------------

    def _receive(self, data: bytes) -> None:
        if not data or self._mode == "vanish":
            return
        if self._data is None:
            self._in += data
        elif self._mode != "hang":              # a hung modem acts on nothing
            self._data_input(data)

    def _process(self) -> None:
        while self._in and not self._busy and self._data is None:
            eol = EOL.search(self._in)
            if eol is None:
                if len(self._in) > 4096:
                    self._in.clear()
                return
            raw = bytes(self._in[:eol.start()])
            del self._in[:eol.end()]
            self._command_line(raw)

    def _command_line(self, raw: bytes) -> None:
        text = raw.decode("latin-1").strip()
        start = text.upper().find("AT")             # a modem skips what comes before "AT"
        if start < 0:
            return
        text = text[start:]
        self.commands.append(text)
        if self._mode == "hang":
            return
        if self._mode == "garbage":
            self._send(JUNK)
            return
        if self._echo:
            self._send(text.encode("latin-1") + b"\r")
        final = "OK"
        info: list[str] = []
        try:
            for token in split_command_line(text[2:]):
                result = self._dispatch(token)
                if result is None:                  # the result comes later (ATD, +VTS)
                    return
                info.extend(result)
        except Fail as fail:
            final = str(fail.code) if fail.kind == "final" else "ERROR"
        except Exception:
            log.exception("V.253 emulator failed on %s", text)
            final = "ERROR"
        for line in info:
            self._line_out(line)
        self._line_out(final)
        if final == "CONNECT":
            self._begin_data(self._connect)

    def _dispatch(self, token: str) -> list[str] | None:
        if token[0] in "+#":
            m = EXTENDED.match(token)
            if m is None:
                raise Fail("plain")
            name, sep, rest = m.group(1).upper(), m.group(2), m.group(3)
            handler = getattr(self, ("_x_" if name[0] == "+" else "_hash_") + name[1:].lower(), None)
            if handler is None and name not in SETTINGS:
                raise Fail("plain")
            if name.startswith("+V") and name != "+VCID" and self._fclass != 8:
                raise Fail("plain")             # voice commands only in voice mode
            if handler is None:
                if sep is None:
                    raise Fail("plain")
                return []                       # a setting: taken, not emulated
            return handler(sep, rest)
        letter = token[0].upper()
        if letter == "D":
            return self._dial(token[1:])
        handler = getattr(self, "_basic_" + letter.lower(), None)
        if handler is None:
            if letter in "LMQVX&S":
                return []                       # settings a driver may send: taken, not emulated
            raise Fail("plain")
        return handler(token[1:])

    # -- basic commands -------------------------------------------------------------

    def _basic_z(self, arg: str) -> list[str]:
        self._hang_up_line()
        self._reset()
        return []

    def _basic_e(self, arg: str) -> list[str]:
        self._echo = arg != "0"
        return []

    def _basic_i(self, arg: str) -> list[str]:
        return ["USRobotics 56K Voice USB (emulated)"]

    def _basic_h(self, arg: str) -> list[str]:
        self._hang_up_line()
        return []

    def _basic_a(self, arg: str) -> list[str]:
        call = self._call
        if call is None or call.state != "ringing":
            raise Fail("final", "NO CARRIER")
        self._pick_up(call)
        if self._fclass == 8:
            raise Fail("final", "VCON")
        return []

    def _dial(self, rest: str) -> list[str] | None:
        number = re.sub(r"^[TtPp]", "", rest.strip()).rstrip(";")
        if not re.fullmatch(r"[0-9*#,]+", number):
            raise Fail("plain")
        if self._call is not None:
            raise Fail("final", "NO CARRIER")
        self.dialled.append(number)
        self._off_hook = True
        call = self._call = Call(number, incoming=False, state="dialling")
        self._busy = True
        self._server.schedule(self.answer_delay, lambda: self._dial_result(call))
        return None

    def _dial_result(self, call: Call) -> None:
        self._busy = False
        if self._call is not call:
            return
        outcome = self.dial_outcome if self._fclass == 8 else "data"
        if call.state == "gone":
            outcome = "no-answer"               # the far end gave up before answering
        if outcome == "answer":
            call.state = "connected"
            self._line_out("VCON" if self.vcon else "OK")
        else:
            self._hang_up_line()
            self._line_out({"busy": "BUSY", "no-answer": "NO ANSWER", "no-dialtone": "NO DIALTONE"}
                           .get(outcome, "NO CARRIER"))

    # -- extended commands ----------------------------------------------------------

    def _x_fclass(self, sep: str | None, rest: str) -> list[str]:
        if sep == "=?":
            return ["0,1,1.0,2,8"]
        if sep == "?":
            return [str(self._fclass)]
        if sep == "=":
            value = rest.strip()
            if value not in ("0", "1", "1.0", "2", "8"):
                raise Fail("plain")
            self._fclass = 8 if value == "8" else 0
            return []
        raise Fail("plain")

    def _caller_id(self, name: str, sep: str | None, rest: str) -> list[str]:
        if self.cid != name:
            raise Fail("plain")
        if sep == "=?":
            return ["(0-2)"]
        if sep == "?":
            return [str(self._cid_on)]
        if sep != "=" or rest.strip() not in ("0", "1", "2"):
            raise Fail("plain")
        self._cid_on = int(rest)
        return []

    def _x_vcid(self, sep: str | None, rest: str) -> list[str]:
        return self._caller_id("+VCID", sep, rest)

    def _hash_cid(self, sep: str | None, rest: str) -> list[str]:
        return self._caller_id("#CID", sep, rest)

    def _x_vsm(self, sep: str | None, rest: str) -> list[str]:
        if sep == "=?":
            return [c.line for c in self.compressions]
        if sep == "?":
            return [f"{self._compression.cml},{RATE},0,0"]
        if sep != "=":
            raise Fail("plain")
        args = parse_args(rest)
        if not args or not args[0].isdigit():
            raise Fail("plain")
        chosen = next((c for c in self.compressions if c.cml == int(args[0])), None)
        rate = int(args[1]) if len(args) > 1 and args[1].isdigit() else RATE
        if chosen is None or chosen.kind is None or rate != RATE or rate not in chosen.rates:
            raise Fail("plain")                 # only 8 kHz of the emulated formats is served
        self._compression = chosen
        return []

    def _x_vls(self, sep: str | None, rest: str) -> list[str]:
        if sep == "=?":
            return ["0,1"]
        if sep == "?":
            return ["1" if self._off_hook else "0"]
        if sep != "=" or rest.strip() not in ("0", "1"):
            raise Fail("plain")
        if rest.strip() == "0":
            self._hang_up_line()
            return []
        call = self._call
        if call is not None and call.state == "ringing":
            self._pick_up(call)
        self._off_hook = True
        if self.vcon:
            raise Fail("final", "VCON")
        return []

    def _x_vsd(self, sep: str | None, rest: str) -> list[str]:
        if not self.silence_detection:
            raise Fail("plain")
        if sep == "=?":
            return ["(0-255),(0-255)"]
        if sep == "?":
            return [f"{self._vsd[0]},{self._vsd[1]}"]
        args = parse_args(rest)
        if sep != "=" or len(args) != 2:
            raise Fail("plain")
        self._vsd = (parse_int(args[0], range(256)), parse_int(args[1], range(256)))
        return []

    def _x_vts(self, sep: str | None, rest: str) -> list[str] | None:
        if sep != "=" or not self._off_hook:
            raise Fail("plain")
        keys = [k for k in re.sub(r"[\[{][^\]}]*[\]}]", "", rest).replace(",", "") if k in DTMF_KEYS]
        if not keys:
            raise Fail("plain")
        self.sent_dtmf.extend(keys)
        self._busy = True

        def done() -> None:
            self._busy = False
            self._line_out("OK")
        self._server.schedule(self.tone_time * len(keys), done)
        return None

    def _start(self, state: str, sep: str | None) -> list[str]:
        if sep is not None or not self._off_hook or (state == "vtr" and not self.duplex):
            raise Fail("plain")
        self._connect = state                   # entered once CONNECT is out
        raise Fail("final", "CONNECT")

    def _x_vtr(self, sep: str | None, rest: str) -> list[str]:
        return self._start("vtr", sep)

    def _x_vrx(self, sep: str | None, rest: str) -> list[str]:
        return self._start("vrx", sep)

    def _x_vtx(self, sep: str | None, rest: str) -> list[str]:
        return self._start("vtx", sep)

    # -- the line ----------------------------------------------------------------------

    def _pick_up(self, call: Call) -> None:
        call.state = "connected"
        self._off_hook = True

    def _hang_up_line(self) -> None:
        self._stop_data()
        self._off_hook = False
        self._call = None
        self._voice_queue.clear()

    def _repeat_tone(self, call: Call) -> None:
        if self._call is call and call.state == "gone" and self._data is not None:
            self._events.append(call.signal)
            self._server.schedule(self.busy_interval, lambda: self._repeat_tone(call))

    # -- data states --------------------------------------------------------------------

    def _begin_data(self, state: str) -> None:
        kind = self._compression.kind
        self._data = state
        self._dte = DteStream(ENDERS[state])
        self._far = FarEndVoice(kind)
        self._far.say(bytes(self._voice_queue))
        self._voice_queue.clear()
        self._silent_for, self._voiced, self._silence_told = 0.0, False, False
        call = self._call
        if call is not None and call.state == "gone" and call.signal in ("b", "d"):
            self._events.append(call.signal)
            self._server.schedule(self.busy_interval, lambda: self._repeat_tone(call))
        self._tick_gen += 1
        gen = self._tick_gen
        self._next_tick = time.monotonic()
        self._server.schedule(0.0, lambda: self._tick(gen))
        if self._in:                            # what came right after CONNECT is data
            early = bytes(self._in)
            self._in.clear()
            self._data_input(early)
        log.debug("data state %s, format %s", state, kind)

    def _stop_data(self) -> None:
        if self._far is not None:
            self._voice_queue[:0] = self._far.queued    # unsaid voice waits for the next state
        self._data = None
        self._dte = None
        self._far = None
        self._events.clear()
        self._tick_gen += 1

    def _end_data(self, rest: bytes) -> None:
        """The data state ends: ``<DLE><ETX>`` (not after transmit), then
        ``OK``; ``rest`` is what the DTE sent after its ending code."""
        state = self._data
        self._stop_data()
        if state != "vtx":
            self._send(b"\x10\x03")
        self._line_out("OK")
        self._in += rest

    def _data_input(self, data: bytes) -> None:
        samples, codes, ender, rest = self._dte.feed(data)
        self.dle_pairs_received += samples.count(b"\x10")   # a 0x10 in samples came doubled
        self.dte_codes += codes + ([ender] if ender else [])
        if samples and self._data in ("vtr", "vtx"):
            self.captured_audio += self._far.hear(samples)
        if ender is not None:
            self._end_data(rest)

    def _tick(self, gen: int) -> None:
        if gen != self._tick_gen or self._data is None:
            return
        if self._mode not in ("hang", "vanish"):
            out = bytearray()
            for code in self._events:
                out += b"\x10" + code.encode("latin-1")
            self._events.clear()
            if self._data in ("vtr", "vrx"):
                if self._mode == "garbage":
                    out += JUNK
                else:
                    frame, silent = self._far.next_frame()
                    out += frame
                    self.samples_sent += FRAME_SAMPLES
                    self.dle_pairs_sent += frame.count(b"\x10\x10")
                    self._watch_silence(silent)
            self._send(bytes(out))
        self._next_tick += FRAME_SECONDS / (1 + self.clock_error)
        delay = self._next_tick - time.monotonic()
        if delay < -1.0:                        # far behind (a stalled host): skip ahead
            self._next_tick -= delay
            delay = 0.0
        self._server.schedule(max(0.0, delay), lambda: self._tick(gen))

    def _watch_silence(self, silent: bool) -> None:
        """+VSD: report a silence as long as its period, once per silence."""
        if not silent:
            self._voiced, self._silent_for, self._silence_told = True, 0.0, False
            return
        self._silent_for += FRAME_SECONDS
        period = self._vsd[1] / 10
        if self.silence_detection and period > 0 and not self._silence_told and self._silent_for >= period:
            self._silence_told = True
            self._events.append("q" if self._voiced else "s")
