"""A phone line's audio as a port on pjsua's conference bridge.

The engine's second pjsua2 module: :class:`LinePort` is an
``AudioMediaPort`` that pjsua's clock thread calls every 20 ms. It takes
the line's audio from one :class:`~firmware.core.ringbuffer.AudioRing`
(``to_pbx``) and puts what the bridge sends into another (``from_pbx``).
Those callbacks run on pjsua's clock thread: they only touch the rings,
never domain state, and a line driver's audio thread fills and drains the
other ends (modem PCM port, sound card).
"""
from __future__ import annotations

import pjsua2 as pj

from firmware.core.ringbuffer import FRAME_BYTES, AudioRing

CLOCK_RATE = 8000
FRAME_USEC = 20000


class LinePort(pj.AudioMediaPort):
    def __init__(self, name: str, to_pbx: AudioRing, from_pbx: AudioRing):
        super().__init__()
        self.name = name
        self.to_pbx = to_pbx
        self.from_pbx = from_pbx
        self.frames_in = 0
        self.frames_out = 0

    def create(self) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.type = pj.PJMEDIA_TYPE_AUDIO
        fmt.init(pj.PJMEDIA_FORMAT_PCM, CLOCK_RATE, 1, FRAME_USEC, 16)
        self.createPort(self.name, fmt)

    def onFrameRequested(self, frame):
        # The bridge wants 20 ms of the line's voice.
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(self.to_pbx.read(FRAME_BYTES))
        frame.size = FRAME_BYTES
        self.frames_out += 1

    def onFrameReceived(self, frame):
        # 20 ms the bridge sends towards the line (prompts, the agent).
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            self.from_pbx.write(bytes(frame.buf))
            self.frames_in += 1


class PortLeg:
    """A call on a phone line, seen by the engine like a SIP call leg.

    Its audio is the line's :class:`LinePort` on the bridge and its
    signalling is the line driver's (``line.answer()``, ``line.hangup()``:
    non-blocking, the driver's own thread talks to the modem and reports
    back through the engine's ``line_*`` methods). It carries the same
    attributes the engine's primitives use on a SIP leg (``audio``,
    ``player``, ``recorder``, ``owner``, ``uid``), so the contact center
    drives a GSM caller exactly like a SIP one.

    Unlike a SIP call's media, the port stays on the bridge after the call:
    ``peers`` remembers whom it was connected to so the end of the call
    can undo every connection.
    """

    def __init__(self, call_id: int, line, port: LinePort):
        self.call_id = call_id
        self.line = line
        self.port = port
        self.app = None
        self.prompt = None
        self.player = None
        self.player_token = 0
        self.audio = None            # the port, once the call is answered
        self.media_started = False
        self.recorder = None
        self.owner = None
        self.uid = ""
        self.active = True
        self.peers: set = set()      # AudioMedia this port transmits to / hears

    def getId(self) -> int:
        return self.call_id

    def isActive(self) -> bool:
        return self.active

    def answer(self, _op=None) -> None:
        self.line.answer()

    def hangup(self, _op=None) -> None:
        self.line.hangup()
