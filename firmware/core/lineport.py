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
